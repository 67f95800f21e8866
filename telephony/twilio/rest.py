"""Twilio's REST API for live calls: moving a call to a person with TwiML ``<Dial>``, its status."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from agent.tool_config import TransferDestination

REQUEST_TIMEOUT_SECS = 10.0


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
        async with self._client() as client:
            call = await client.calls(call_sid).fetch_async()
        return str(call.status), call.end_time

    async def hang_up(self, call_sid: str) -> None:
        """End a live call.

        Raises:
            TwilioRestError: Not configured, refused by Twilio, or unreachable.
        """
        async with self._client() as client:
            await client.calls(call_sid).update_async(status="completed")

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        if not self.configured:
            raise TwilioRestError(
                "Twilio REST credentials are not set (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
            )
        http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_SECS)
        client = Client(self._account_sid, self._auth_token, http_client=http)
        if self._api_base_url:
            client.api.base_url = self._api_base_url
        try:
            yield client
        except TwilioRestException as e:
            raise TwilioRestError(f"Twilio answered HTTP {e.status}: {e.msg}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TwilioRestError(
                f"Twilio could not be reached: {e.__class__.__name__}: {e}"
            ) from None
        finally:
            await http.close()

    async def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace what a live call is doing with ``twiml`` (its media stream then stops).

        Raises:
            TwilioRestError: Not configured, refused by Twilio, or unreachable.
        """
        async with self._client() as client:
            await client.calls(call_sid).update_async(twiml=twiml)
