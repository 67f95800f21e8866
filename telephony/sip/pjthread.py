"""The one Python thread that drives PJSIP: polls its events and runs every call into it."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from loguru import logger

T = TypeVar("T")

# How long one poll may wait for SIP traffic before queued jobs run; bounds command latency.
POLL_MSEC = 10


class PjThread:
    """Owns the PJSIP library: every Python call into it runs on this thread.

    pjlib asserts when called from a thread it does not know, and pjsua2 objects
    must be created and destroyed on a registered thread. Funnelling all calls
    through one thread (the one that created the library, with ``threadCnt=0`` so
    SIP callbacks also run here) keeps the asyncio loop out of PJSIP entirely and
    serializes our SIP state without locks. PJSIP's own threads (media I/O, the
    audio clock) still call back into Python for RTP DTMF and audio frames.
    """

    def __init__(self, name: str = "sip-engine"):
        """Prepare the thread; nothing runs until :meth:`start`."""
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def is_current(self) -> bool:
        """Whether the caller runs on this thread."""
        return threading.current_thread() is self._thread

    def start(self, setup: Callable[[], None], poll: Callable[[int], Any]) -> None:
        """Start the thread, run ``setup`` on it, then poll with ``poll(msec)`` between jobs.

        Blocks until ``setup`` finished; re-raises what it raised.
        """
        ready: Future = Future()
        self._thread = threading.Thread(
            target=self._main, args=(setup, poll, ready), name=self._name, daemon=True
        )
        self._thread.start()
        ready.result()

    def submit(self, fn: Callable[[], T]) -> Future:
        """Run ``fn`` on this thread (at once when already on it); its result as a future."""
        future: Future = Future()
        if self.is_current:
            _run(fn, future)
        elif self._stopping:
            future.set_exception(RuntimeError("the SIP engine is stopped"))
        else:
            self._jobs.put((fn, future))
        return future

    def defer(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on this thread after the current callback returns (from any thread)."""
        if not self._stopping:
            self._jobs.put((fn, Future()))

    async def run(self, fn: Callable[[], T]) -> T:
        """Await ``fn`` run on this thread."""
        return await asyncio.wrap_future(self.submit(fn))

    def stop(self, teardown: Callable[[], None], timeout: float = 10.0) -> None:
        """Run ``teardown`` on the thread, then end it (blocks up to ``timeout``)."""
        if self._thread is None or self._stopping:
            return
        done = self.submit(teardown)
        self._stopping = True
        self._jobs.put(None)
        try:
            done.result(timeout)
        finally:
            self._thread.join(timeout)

    def _main(self, setup: Callable[[], None], poll: Callable[[int], Any], ready: Future) -> None:
        try:
            setup()
        except BaseException as e:
            self._stopping = True
            ready.set_exception(e.with_traceback(None))  # its frames hold pjsua2 objects: see _run
            return
        ready.set_result(None)
        while True:
            try:
                poll(POLL_MSEC)
            except Exception as e:
                logger.exception(f"SIP event poll failed: {e}")
            if not self._run_jobs():
                return

    def _run_jobs(self) -> bool:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return True
            if job is None:
                return False
            _run(*job)


def _run(fn: Callable[[], Any], future: Future) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as e:
        # The traceback's frames hold pjsua2 objects; they must not travel to (and be
        # freed on) the asyncio thread, so the error goes without them.
        logger.opt(exception=e).debug(f"SIP job {fn!r} raised")
        future.set_exception(e.with_traceback(None))
