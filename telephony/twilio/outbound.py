"""Placing outbound calls through Twilio's REST API, answered by our own voice webhook."""

from __future__ import annotations

import aiohttp
from loguru import logger
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from telephony.outbound.providers import DialError, OutboundCall

# Twilio errors that mean the number itself is unusable (no point retrying).
TWILIO_BAD_NUMBER_CODES = frozenset(
    {13223, 13224, 21211, 21214, 21215, 21216, 21217, 21401, 21407, 21421, 21610}
)


class TwilioOutbound:
    """Twilio's ``calls.create``, answered by our ``/twilio/voice``, with async AMD."""

    runs_here = True  # the answered call streams into our pipeline

    def __init__(
        self, account_sid: str, auth_token: str, public_url: str, *, api_base_url: str = ""
    ):
        """Create the client.

        Args:
            account_sid: TWILIO_ACCOUNT_SID.
            auth_token: TWILIO_AUTH_TOKEN.
            public_url: Our public base URL (webhooks and callbacks go there).
            api_base_url: Twilio's REST root; set to reach a Twilio-compatible test server.
        """
        self._http = AsyncTwilioHttpClient()
        self._client = Client(account_sid, auth_token, http_client=self._http)
        if api_base_url:
            self._client.api.base_url = api_base_url.rstrip("/")
        self._public_url = public_url.rstrip("/")

    async def place(self, call: OutboundCall) -> str:
        """Dial ``call.to``; Twilio fetches TwiML from ``/twilio/voice`` when it is answered."""
        query = f"?callId={call.call_id}"
        try:
            created = await self._client.calls.create_async(
                to=call.to,
                from_=call.from_number,
                url=f"{self._public_url}/twilio/voice{query}",
                status_callback=f"{self._public_url}/twilio/status{query}",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="DetectMessageEnd",
                async_amd="true",
                async_amd_status_callback=f"{self._public_url}/twilio/amd{query}",
                timeout=25,
            )
        except TwilioRestException as e:
            logger.warning(f"call {call.call_id}: Twilio refused the call: {e.code} {e.msg}")
            raise DialError(
                f"Twilio {e.code}: {e.msg}", invalid_number=e.code in TWILIO_BAD_NUMBER_CODES
            ) from None
        except (OSError, aiohttp.ClientError) as e:
            raise DialError(f"Twilio unreachable: {e}") from None
        return created.sid

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()
