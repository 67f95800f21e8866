"""A fake Twilio REST API on 127.0.0.1: records live-call updates, answers as Twilio does."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class CallUpdate:
    """One ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` as received."""

    account_sid: str
    call_sid: str
    form: dict[str, str]
    username: str | None

    @property
    def twiml(self) -> str:
        """The ``Twiml`` form field."""
        return self.form.get("Twiml", "")


@dataclass
class FakeTwilio:
    """Twilio's call-update endpoint, with HTTP basic auth checked like Twilio.

    ``fail_with`` makes the next updates answer that HTTP status with Twilio's error
    body (e.g. 400 when the call is no longer in progress).
    """

    account_sid: str = "AC" + "1" * 32
    auth_token: str = "fake-twilio-auth-token"
    updates: list[CallUpdate] = field(default_factory=list)
    fail_with: int | None = None
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def _username(self, request: web.Request) -> str | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user if password == self.auth_token else None

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        body: dict[str, Any] = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        return web.json_response(body, status=status)

    async def _update(self, request: web.Request) -> web.Response:
        account, call = request.match_info["account"], request.match_info["call"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        username = self._username(request)
        self.updates.append(CallUpdate(account, call, form, username))
        if username != account:
            return self._error(401, 20003, "Authenticate")
        if self.fail_with:
            return self._error(self.fail_with, 21220, "Call is not in-progress. Cannot redirect.")
        return web.json_response(
            {"sid": call, "account_sid": account, "status": "in-progress", "uri": request.path, "direction": "inbound"}
        )
