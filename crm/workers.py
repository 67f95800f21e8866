"""Background loops: woken on demand, or every interval; a failing step is logged, never fatal.

A database outage is logged once when it starts and once when it ends, not at every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger

from crm.outages import OutageLog


class Periodic:
    """Runs ``step`` again at once while it reports work, else every ``interval`` or when woken."""

    def __init__(self, name: str, step: Callable[[], Awaitable[int]], interval: float):
        """Args:
        name: For logs.
        step: Does one batch of work; returns how many items it handled.
        interval: Seconds between idle runs.
        """
        self.name = name
        self._step = step
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._outage = OutageLog(f"{name} worker")

    def start(self) -> None:
        """Start the loop (its first step runs at once)."""
        self._task = asyncio.create_task(self._loop(), name=f"crm-{self.name}")

    def wake(self) -> None:
        """Run the step now rather than at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                handled = await self._step()
                self._outage.succeeded()
            except Exception as e:
                handled = 0
                if not self._outage.failed(e):
                    logger.error(f"{self.name} worker: {e.__class__.__name__}: {e}")
                    logger.opt(exception=e).debug(f"{self.name} worker traceback")
            if handled:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
