"""How late the event loop runs: every call's audio frames wait on it, so its lag is theirs."""

from __future__ import annotations

import asyncio
import time
from collections import deque

# How often the watcher wakes, and how long its report looks back.
TICK_SECS = 0.05
WINDOW_SECS = 10.0


class LoopLag:
    """Wakes every ``TICK_SECS`` and notes how late it woke; a late wake is time the loop
    spent on something else (a frame handler, a callback) while every call's audio waited.

    ``report()`` (for ``/healthz``) gives the worst and the 99th-percentile lateness over
    the last ``WINDOW_SECS``, in milliseconds.
    """

    def __init__(self, tick: float = TICK_SECS, window: float = WINDOW_SECS):
        """Measure every ``tick`` seconds; keep ``window`` seconds of measurements."""
        self._tick = tick
        self._lags: deque[float] = deque(maxlen=max(1, int(window / tick)))
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start watching the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="loop-lag")

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _watch(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self._tick)
            self._lags.append(max(0.0, time.perf_counter() - asked - self._tick))

    def report(self) -> dict[str, float | None]:
        """``maxMs`` and ``p99Ms`` over the window (None before the first tick)."""
        lags = sorted(self._lags)
        if not lags:
            return {"maxMs": None, "p99Ms": None}
        return {
            "maxMs": round(lags[-1] * 1000, 1),
            "p99Ms": round(lags[int(0.99 * (len(lags) - 1))] * 1000, 1),
        }
