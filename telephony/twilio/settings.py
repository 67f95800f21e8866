"""Twilio's settings: credentials, the URLs it reaches us at, the stream-token secret."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from telephony.twilio.rest import TwilioRest


@dataclass
class TwilioSettings:
    """Twilio settings.

    Parameters:
        account_sid: TWILIO_ACCOUNT_SID.
        auth_token: TWILIO_AUTH_TOKEN; when set, every webhook must be signed with it.
        public_url: The base URL Twilio signs requests against (PUBLIC_URL).
        stream_url: The Media Streams URL given in TwiML (wss://host/twilio/stream).
        signing_secret: Secret for the per-call stream tokens we put in TwiML.
        api_base_url: Twilio REST root; empty for https://api.twilio.com.
    """

    account_sid: str
    auth_token: str
    public_url: str
    stream_url: str
    signing_secret: str
    api_base_url: str = ""

    @classmethod
    def for_server(cls, settings: Settings) -> TwilioSettings:
        """From the server's settings (TWILIO_*, PUBLIC_URL, the data directory's secret)."""
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            public_url=settings.base_url,
            stream_url=settings.stream_url,
            signing_secret=settings.signing_secret(),
            api_base_url=settings.twilio_api_base_url,
        )

    def rest(self) -> TwilioRest:
        """The REST client for live calls (transfers)."""
        return TwilioRest(self.account_sid, self.auth_token, self.api_base_url)
