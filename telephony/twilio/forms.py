"""What Twilio sends us, checked at the edge: webhook form fields and the media stream's start.

Field names are Twilio's (https://www.twilio.com/docs/voice/twiml#request-parameters,
https://www.twilio.com/docs/voice/media-streams/websocket-messages#start-message). Only
the fields we read are declared; the rest pass through. A value that does not fit
(a status Twilio never sends, a number longer than any address) is refused with 400
(a webhook) or closes the socket (a stream) before anything is stored.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field

from crm.phone_numbers import maybe_e164

# The call statuses of Twilio's voice webhooks and status callbacks.
TwilioStatus = Literal[
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
    "canceled",
]  # fmt: skip
Sid = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
# The longest From/To we keep as it is (the calls table's column); a longer one is a SIP
# address, kept as its E.164 number when it holds one.
NUMBER_CHARS = 32
SIP_USER = re.compile(r"^sips?:([^@;]+)@", re.IGNORECASE)


class FormError(ValueError):
    """A webhook body that is not a form Twilio would send (answered 400)."""


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (Twilio's are UTF-8, whatever the header
    says), the last value of a repeated field winning as in ``request.post()``.

    Raises:
        FormError: Not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True, errors="strict"))


def kept_number(raw: str | None) -> str | None:
    """A From/To as we store it: as sent when it fits, else its E.164 number (a SIP address's
    user part, ``sip:+14155550123@trunk...``), else nothing."""
    if raw is None or len(raw) <= NUMBER_CHARS:
        return raw
    sip_user = SIP_USER.match(raw)
    return maybe_e164(sip_user.group(1) if sip_user else raw)


class WebhookForm(BaseModel):
    """A Twilio webhook's form: the fields we read are checked, the rest pass through."""

    model_config = ConfigDict(extra="allow", str_max_length=4096)


class TwilioForm(WebhookForm):
    """The fields every voice webhook we serve reads."""

    CallSid: str = Sid
    AccountSid: str | None = Field(default=None, max_length=64)
    CallStatus: TwilioStatus | None = None
    From: str | None = Field(default=None, max_length=256)
    To: str | None = Field(default=None, max_length=256)
    Direction: str | None = Field(default=None, max_length=32)
    AnsweredBy: str | None = Field(default=None, max_length=64)
    CallDuration: str | None = Field(default=None, max_length=32)


class StatusForm(TwilioForm):
    """A status callback: the call's status is required."""

    CallStatus: TwilioStatus


class AmdForm(TwilioForm):
    """An async answering-machine detection result."""

    AnsweredBy: str = Field(min_length=1, max_length=64)


class ConferenceForm(WebhookForm):
    """A conference's status callback, or a participant leg's call status (warm transfers).

    Conference-wide events (``conference-start``, ``conference-end``) carry no ``CallSid``.
    """

    CallSid: str = Field(default="", max_length=64)
    ConferenceSid: str | None = Field(default=None, max_length=64)
    StatusCallbackEvent: str | None = Field(default=None, max_length=64)
    CallStatus: str | None = Field(default=None, max_length=32)


class StreamStart(BaseModel):
    """The ``start`` object of a Media Streams ``start`` message."""

    model_config = ConfigDict(extra="allow")

    streamSid: str = Field(default="", max_length=64)
    callSid: str | None = Field(default=None, max_length=64)
    customParameters: dict[str, str] = Field(default_factory=dict)
