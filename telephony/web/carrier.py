"""The browser as a way into calls: the Talk socket, mounted on the server in one step."""

from __future__ import annotations

from aiohttp import web

from telephony.web.routes import PUBLIC_ORIGIN, origin_of, routes


class WebCarrier:
    """Talk: a person holds a call with an assistant from the dashboard (or a terminal)."""

    name = "web"

    def __init__(self, public_url: str):
        """``public_url`` (PUBLIC_URL): pages served from there may open the Talk socket."""
        self.public_url = public_url

    def mount(self, app: web.Application) -> None:
        """Add the Talk socket to the app."""
        app[PUBLIC_ORIGIN] = origin_of(self.public_url)
        app.add_routes(routes)
