"""Small real HTTP servers on 127.0.0.1 that stand in for outside services in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, Self

import aiohttp
from aiohttp import web


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Run ``app`` on 127.0.0.1 (``port`` 0: a free one); returns its runner and port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class CallingBack:
    """What fakes that call back into the server under test share: start, background plays, stop.

    A dataclass using it declares ``url``, ``_tasks``, ``_runner`` and ``_http`` and
    implements :meth:`routes`.
    """

    url: str
    _tasks: set[asyncio.Task]
    _runner: web.AppRunner | None
    _http: aiohttp.ClientSession | None

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to ``app``."""
        raise NotImplementedError

    async def start(self) -> Self:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        self.routes(app)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        """Let every call play out, then shut down."""
        await self.idle()
        if self._http:
            await self._http.close()
        if self._runner:
            await self._runner.cleanup()

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until every call's callbacks have been sent."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Play something in the background (kept until it ends; :meth:`idle` waits for it)."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
