"""A call's transcript written in order as the call happens, off the audio path; and its feed."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from loguru import logger

from crm.calls import CallStore, NewUtterance
from telephony.feed import CallFeed, ToolCalled, TranscriptLine
from voice.stt import Resumption

RETRIES = 5


class CallJournal:
    """Queues a call's transcript lines and writes them one by one, in order.

    The pipeline never waits on the database: lines are queued and a single task
    per call writes them, retrying a failed write with backoff. ``close`` writes
    whatever is still queued before the call is finalized, so nothing said is lost
    to a slow or briefly unavailable database.

    A caller line that continues the caller's previous words (they went on after a
    short pause) rewrites that line as one sentence when it is the last line written;
    otherwise (the bot spoke in between) it is a line of its own.

    Each line is published on the call's feed once written (a rewritten line with the
    number of the line it replaces), and tool calls in their place among the lines:
    followers see the transcript as it is stored, in order.
    """

    def __init__(self, store: CallStore, call_id: str, feed: CallFeed | None = None):
        """Start the writer for one call."""
        self._store = store
        self._call_id = call_id
        self._feed = feed or CallFeed()
        self._queue: asyncio.Queue[tuple[NewUtterance, Resumption | None] | ToolCalled | None] = (
            asyncio.Queue()
        )
        self._task = asyncio.create_task(self._write_all(), name=f"journal-{call_id}")
        self.written = 0
        # The last line written, when it was the caller's.
        self._last_caller: TranscriptLine | None = None

    def add(self, line: NewUtterance, *, resumed: Resumption | None = None) -> None:
        """Queue a transcript line (never blocks).

        Args:
            line: The line.
            resumed: For caller words that continue their previous ones: what they continue.
        """
        if line.text.strip():
            self._queue.put_nowait((line, resumed))

    def tool_called(self, event: ToolCalled) -> None:
        """Queue a tool call for the feed, in its place among the lines (the tool stored it)."""
        self._queue.put_nowait(event)

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put_nowait(None)
        await asyncio.shield(self._task)

    async def _write_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, ToolCalled):
                self._feed.publish(item)
            else:
                await self._write(*item)

    async def _write(self, line: NewUtterance, resumed: Resumption | None) -> None:
        last, self._last_caller = self._last_caller, None
        # the caller's line these words complete, when there is one
        extends = last if resumed and last and last.text == resumed.before else None
        for attempt in range(1, RETRIES + 1):
            try:
                if extends is not None and resumed is not None:
                    await self._store.extend_utterance(
                        self._call_id, extends.seq, text=resumed.whole, ended_at=line.ended_at
                    )
                    written = replace(extends, text=resumed.whole, ended_at=line.ended_at)
                else:
                    seq = await self._store.add_utterance(self._call_id, line)
                    written = _written(seq, line)
                    self.written += 1
                if written.role == "user":
                    self._last_caller = written
                self._feed.publish(written)
                return
            except Exception as e:
                if attempt == RETRIES:
                    logger.error(
                        f"call {self._call_id}: transcript line lost after {RETRIES} tries: {e}"
                    )
                    return
                logger.warning(f"call {self._call_id}: transcript write failed ({e}); retrying")
                await asyncio.sleep(0.2 * 2**attempt)


def _written(seq: int, line: NewUtterance) -> TranscriptLine:
    return TranscriptLine(
        seq=seq,
        role=line.role,
        text=line.text,
        started_at=line.started_at,
        ended_at=line.ended_at,
        interrupted=line.interrupted,
    )
