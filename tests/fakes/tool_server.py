"""A webhook-tool server on 127.0.0.1: receives VAPI-shaped tool-calls, answers from a script."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import serve
from tests.fakes.signatures import signature_problem

# The server.secret of the test assistants whose tools run here.
TOOL_SECRET = "tool-secret"


@dataclass
class ToolAnswer:
    """How the server answers the next request.

    Parameters:
        result: The ``result`` for the call (answered as ``{"results": [...]}``).
        status: HTTP status.
        delay: Seconds before answering (a slow or hanging service).
        raw: A body to send as is, instead of the results (e.g. not JSON).
    """

    result: Any = "ok"
    status: int = 200
    delay: float = 0.0
    raw: str | None = None


@dataclass
class FakeToolServer:
    """Records each ``POST /tools`` (headers and JSON body) and answers from ``script``.

    A request not signed with ``secret`` (Standard Webhooks) is answered 401, as a
    receiver that checks signatures would.
    """

    secret: str = TOOL_SECRET
    script: list[ToolAnswer] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeToolServer:
        app = web.Application()
        app.router.add_post("/tools", self._tools)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}/tools"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _tools(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(
            {"headers": dict(request.headers), "raw": raw, "body": json.loads(raw)}
        )
        problem = signature_problem(self.secret, request.headers, raw)
        if problem:
            return web.json_response({"error": f"bad signature: {problem}"}, status=401)
        answer = self.script.pop(0) if self.script else ToolAnswer()
        await asyncio.sleep(answer.delay)
        if answer.raw is not None:
            return web.Response(
                text=answer.raw, status=answer.status, content_type="application/json"
            )
        calls = json.loads(raw)["message"]["toolCallList"]
        results = [{"toolCallId": c["id"], "result": answer.result} for c in calls]
        return web.json_response({"results": results}, status=answer.status)
