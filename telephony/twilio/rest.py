"""Twilio's REST API for live calls: new TwiML (``<Dial>``, a conference) and participants."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from agent.tool_config import TransferDestination

REQUEST_TIMEOUT_SECS = 10.0
T = TypeVar("T")


class TwilioRestError(RuntimeError):
    """A REST request failed; the message says what Twilio (or the network) answered."""


def dial_twiml(destination: TransferDestination, *, timeout_secs: int = 30) -> str:
    """TwiML that moves the call: ``<Dial><Number>`` or ``<Dial><Sip>``."""
    response = VoiceResponse()
    dial = Dial(timeout=timeout_secs)
    if destination.type == "sip":
        dial.sip(destination.sip_uri)
    else:
        dial.number(destination.number)
    response.append(dial)
    return str(response)


class TwilioRest:
    """Updates live calls through the ``twilio`` package's async client.

    ``api_base_url`` (TWILIO_API_BASE_URL) points the client elsewhere than
    https://api.twilio.com, e.g. at a local fake in tests.
    """

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = ""):
        """Keep the credentials; no connection is made until a request."""
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base_url = api_base_url.rstrip("/")

    @property
    def configured(self) -> bool:
        """Whether credentials are set (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)."""
        return bool(self._account_sid and self._auth_token)

    async def fetch(self, call_sid: str) -> tuple[str, datetime | None]:
        """A call's status at Twilio and its end time (None while it is not over).

        Raises:
            TwilioRestError: Not configured, refused by Twilio, or unreachable.
        """
        call = await self._send(lambda client: client.calls(call_sid).fetch_async())
        return str(call.status), call.end_time

    async def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace what a live call is doing with ``twiml`` (its media stream then stops).

        Raises:
            TwilioRestError: Not configured, refused by Twilio, or unreachable.
        """
        await self._send(lambda client: client.calls(call_sid).update_async(twiml=twiml))

    async def end_call(self, call_sid: str) -> None:
        """Hang a call up (ringing or answered).

        Raises:
            TwilioRestError: Refused by Twilio, or unreachable.
        """
        await self._send(lambda client: client.calls(call_sid).update_async(status="completed"))

    async def add_participant(self, conference: str, **params: Any) -> str:
        """Dial someone into a conference (its sid or name); returns the new call's SID.

        ``params`` are the Participant resource's (``from_``, ``to``, ``label``,
        ``early_media``, ``beep``, ``timeout``, ``status_callback``...).

        Raises:
            TwilioRestError: Refused by Twilio, or unreachable.
        """
        participant = await self._send(
            lambda client: client.conferences(conference).participants.create_async(**params)
        )
        return str(participant.call_sid)

    async def update_participant(self, conference_sid: str, call_sid: str, **params: Any) -> None:
        """Change a participant: ``hold``/``hold_url``, ``announce_url``, ``muted``, ``coaching``.

        Raises:
            TwilioRestError: Refused by Twilio, or unreachable.
        """
        await self._send(
            lambda client: (
                client.conferences(conference_sid).participants(call_sid).update_async(**params)
            )
        )

    async def _send(self, request: Callable[[Client], Awaitable[T]]) -> T:
        if not self.configured:
            raise TwilioRestError(
                "Twilio REST credentials are not set (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
            )
        http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_SECS)
        client = Client(self._account_sid, self._auth_token, http_client=http)
        if self._api_base_url:
            client.api.base_url = self._api_base_url
        try:
            return await request(client)
        except TwilioRestException as e:
            raise TwilioRestError(f"Twilio answered HTTP {e.status}: {e.msg}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TwilioRestError(
                f"Twilio could not be reached: {e.__class__.__name__}: {e}"
            ) from None
        finally:
            await http.close()
