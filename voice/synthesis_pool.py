"""Speech synthesis for every call on a few shared threads: a caller who waits goes first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class SynthesisPool:
    """Runs blocking synthesis steps (one Piper sentence each) for all calls, most urgent first.

    A step's urgency is how far the call's audio already runs ahead of what its caller
    hears: the first sentence of a reply (the caller is waiting for it) goes ahead of a
    sentence that would not play for seconds anyway. Threads start on first use.
    """

    def __init__(self, workers: int = 1):
        """Run steps on ``workers`` threads."""
        self._workers = max(1, workers)
        self._queue: list[tuple[float, int, Callable[[], Any], Future]] = []
        self._ready = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, step: Callable[[], T], ahead_secs: float = 0.0) -> Future[T]:
        """Queue ``step``; ``ahead_secs``: the call's audio produced but not yet heard."""
        future: Future[T] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the synthesis pool is closed")
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name="synthesis", daemon=True)
                self._threads.append(thread)
                thread.start()
            heapq.heappush(self._queue, (max(0.0, ahead_secs), next(self._seq), step, future))
            self._ready.notify()
        return future

    async def run(self, step: Callable[[], T], ahead_secs: float = 0.0) -> T:
        """:meth:`submit`, awaited; cancelling the caller drops a step that has not started."""
        return await asyncio.wrap_future(self.submit(step, ahead_secs))

    def close(self) -> None:
        """Stop the threads once their current step ends; queued steps are cancelled."""
        with self._ready:
            self._closed = True
            for *_, future in self._queue:
                future.cancel()
            self._queue.clear()
            self._ready.notify_all()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._closed and not self._queue:
                    self._ready.wait()
                if self._closed:
                    return
                *_, step, future = heapq.heappop(self._queue)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(step())
            except BaseException as e:  # the step's error is the caller's
                future.set_exception(e)
