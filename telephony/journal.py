"""A call's transcript written in order as the call happens, off the audio path."""

from __future__ import annotations

import asyncio

from loguru import logger

from crm.calls import CallStore, NewUtterance

RETRIES = 5


class CallJournal:
    """Queues a call's transcript lines and writes them one by one, in order.

    The pipeline never waits on the database: lines are queued and a single task
    per call writes them, retrying a failed write with backoff. ``close`` writes
    whatever is still queued before the call is finalized, so nothing said is lost
    to a slow or briefly unavailable database.
    """

    def __init__(self, store: CallStore, call_id: str):
        """Start the writer for one call."""
        self._store = store
        self._call_id = call_id
        self._queue: asyncio.Queue[NewUtterance | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._write_all(), name=f"journal-{call_id}")
        self.written = 0

    def add(self, line: NewUtterance) -> None:
        """Queue a transcript line (never blocks)."""
        if line.text.strip():
            self._queue.put_nowait(line)

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put_nowait(None)
        await asyncio.shield(self._task)

    async def _write_all(self) -> None:
        while (line := await self._queue.get()) is not None:
            await self._write(line)

    async def _write(self, line: NewUtterance) -> None:
        for attempt in range(1, RETRIES + 1):
            try:
                await self._store.add_utterance(self._call_id, line)
                self.written += 1
                return
            except Exception as e:
                if attempt == RETRIES:
                    logger.error(f"call {self._call_id}: transcript line lost after {RETRIES} tries: {e}")
                    return
                logger.warning(f"call {self._call_id}: transcript write failed ({e}); retrying")
                await asyncio.sleep(0.2 * 2**attempt)
