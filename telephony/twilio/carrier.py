"""Twilio as a way into calls: its routes and settings, mounted on the server in one step."""

from __future__ import annotations

from aiohttp import web
from loguru import logger

from telephony.twilio.routes import STREAMS, TWILIO, routes
from telephony.twilio.settings import TwilioSettings
from telephony.twilio.streams import StreamHandovers


class TwilioCarrier:
    """Twilio Media Streams: the voice webhook, status and AMD callbacks, the media socket."""

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
        app.add_routes(routes)
