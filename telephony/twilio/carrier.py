"""Twilio as a way into calls (and out): its routes, settings and dialer, mounted in one step."""

from __future__ import annotations

from aiohttp import web
from loguru import logger

from crm.models import utcnow
from telephony.orphans import ASK_CARRIER, CarrierVerdict
from telephony.outbound.providers import register_outbound
from telephony.twilio.conference import ConferenceEvents
from telephony.twilio.outbound import TwilioOutbound
from telephony.twilio.routes import CONFERENCES, STREAMS, TWILIO, routes
from telephony.twilio.settings import TwilioSettings
from telephony.twilio.streams import StreamHandovers
from telephony.twilio.transfer_routes import routes as transfer_routes

# Twilio's statuses of a call that is not over yet.
LIVE_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress"})


class TwilioCarrier:
    """Twilio Media Streams: the voice webhook, status and AMD callbacks, the media socket,
    and warm transfers' conference callbacks, hold music and whisper.

    With its credentials set, Twilio also places the dialer's calls (``twilio``).
    """

    name = "twilio"

    def __init__(self, settings: TwilioSettings):
        """Keep Twilio's settings; nothing is reached until a call."""
        self.settings = settings

    def mount(self, app: web.Application) -> None:
        """Add Twilio's routes to the app, with its settings where they read them."""
        if not self.settings.auth_token:
            logger.warning(
                "TWILIO_AUTH_TOKEN is not set: "
                "Twilio webhooks are accepted unsigned (local use only)"
            )
        app[TWILIO] = self.settings
        app[STREAMS] = StreamHandovers()
        app[CONFERENCES] = ConferenceEvents()
        app.add_routes(routes)
        app.add_routes(transfer_routes)
        register_outbound(app, self.name, self.outbound)
        if self.settings.account_sid and self.settings.auth_token:
            app.setdefault(ASK_CARRIER, {})[self.name] = self.ask

    async def ask(self, call_sid: str) -> CarrierVerdict:
        """How a call we lost really went: its status at Twilio, hung up there if still up."""
        rest = self.settings.rest()
        status, ended_at = await rest.fetch(call_sid)
        if status in LIVE_STATUSES:
            await rest.end_call(call_sid)  # nobody hears the caller any more
            return CarrierVerdict(status, utcnow())
        return CarrierVerdict(status, ended_at)

    def outbound(self, app: web.Application) -> TwilioOutbound | None:
        """Calls placed through Twilio's REST API and answered by our voice webhook.

        None without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.
        """
        settings = self.settings
        if not (settings.account_sid and settings.auth_token):
            return None
        return TwilioOutbound(
            settings.account_sid,
            settings.auth_token,
            settings.public_url,
            api_base_url=settings.api_base_url,
        )
