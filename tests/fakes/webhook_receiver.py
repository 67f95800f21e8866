"""A webhook receiver on 127.0.0.1: verifies signatures, can fail its first requests, keeps all."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import serve
from tests.fakes.signatures import signature_problem


@dataclass
class Received:
    """One request as it arrived, and what we answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers POSTs on any path: 401 when not signed with ``secret``, ``fail_first`` times
    with 500, then 200.

    Parameters:
        fail_first: How many requests to refuse with a 500 before accepting.
        secret: The Standard Webhooks secret requests must be signed with (None: any request).
    """

    fail_first: int = 0
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]

    async def wait_for(
        self, count: int, *, accepted: bool = True, timeout: float = 20.0
    ) -> list[Received]:
        """Wait until ``count`` requests arrived (accepted ones by default)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.accepted if accepted else self.received
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"got {len(got)} of {count} webhooks: {[r.path for r in self.received]}"
                )
            await asyncio.sleep(0.05)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = self.secret and signature_problem(self.secret, request.headers, body)
        failing = len(self.received) < self.fail_first
        answered = 401 if problem else 500 if failing else 200
        self.received.append(Received(request.path, dict(request.headers), body, answered))
        text = f"bad signature: {problem}" if problem else "scripted failure" if failing else "ok"
        return web.Response(status=answered, text=text)
