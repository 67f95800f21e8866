"""Speech synthesis for every call on a few shared threads: a caller who waits goes first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class SynthesisPool:
    """Runs blocking synthesis steps (one Piper sentence each) for all calls, most urgent first.

    A step is due when its caller would run out of audio: now, for the first sentence of
    a reply (the caller is waiting for it), or as far ahead as the call's audio already
    runs past what its caller hears. The step due first runs first, so a sentence that
    would not play for seconds waits, but only until it is due: new first sentences of
    other calls, due the moment they come, do not keep passing it (ordering by the
    seconds ahead at submission let them). Threads start on first use.
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
            due = time.monotonic() + max(0.0, ahead_secs)
            heapq.heappush(self._queue, (due, next(self._seq), step, future))
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
