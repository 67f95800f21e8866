"""Hands work from PJSIP's threads to the asyncio loop, a batch per wake-up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from loguru import logger


class LoopMailbox:
    """Runs callables on an asyncio loop, posted from any thread, in the order posted.

    Every call's audio arrives on PJSIP's media clock thread every 20 ms; waking the
    loop once per frame would cost a self-pipe write per call per tick. Posts that
    land while a drain is already scheduled join that drain, so the loop wakes at
    most once per batch whatever the number of calls. Posting never blocks on the
    loop (it takes a lock held only to append or swap a list).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        """Bind to the loop that will run what is posted."""
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._scheduled = False
        self.closed = False

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon; dropped silently once the loop is closed."""
        with self._lock:
            self._items.append((fn, args))
            if self._scheduled or self.closed:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            self.closed = True

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for fn, args in items:
            try:
                fn(*args)
            except Exception as e:  # one bad handler must not starve the rest of the batch
                logger.exception(f"SIP event handler {fn!r} failed: {e}")
