"""A call's transcript written in order as the call happens, off the audio path; and its feed."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from loguru import logger

from crm.calls import CallStore, NewToolCall, NewUtterance, OpenedCall
from crm.db import is_outage
from telephony.feed import CallFeed, ToolCalled, TranscriptLine
from telephony.journal_spool import JournalEntry, JournalSpool, SaidLine
from voice.stt import Resumption

# Tries for a write the database refuses (not an outage: an outage is waited out).
RETRIES = 5
# Entries kept in memory while the database is away; later ones go to the disk spool.
MEMORY_ENTRIES = 200
# At the end of the call, how long the journal waits for the database before it leaves
# what is unwritten in the spool (written by whoever settles the call).
CLOSE_WAIT_SECS = 30.0
# Longest pause between two tries while the database is away.
MAX_BACKOFF_SECS = 2.0
# At the end of the call, how long the journal waits for the records of tools still running
# (a transfer's tool answers only after the call it moved has ended).
TOOL_WAIT_SECS = 5.0


class CallJournal:
    """Keeps a call's transcript lines and tool calls and writes them one by one, in order.

    The pipeline never waits on the database: entries are queued and a single task
    per call writes them. A write that fails because the database is unreachable,
    stalled or locked is tried again until it succeeds, however long the call lasts;
    meanwhile the entries wait in memory (up to ``memory_entries``), then in a spool
    file on local disk, and are written in the order they were said once the
    database is back. ``close`` writes what is left; if the database is still away
    then, the rest stays in the spool for :func:`write_spooled`.

    A caller line that continues the caller's previous words (they went on after a
    short pause) rewrites that line as one sentence when it is the last line written;
    otherwise (the bot spoke in between) it is a line of its own.

    Each line is published on the call's feed once written (a rewritten line with the
    number of the line it replaces), and tool calls in their place among the lines:
    followers see the transcript as it is stored, in order.
    """

    def __init__(
        self,
        store: CallStore,
        call_id: str,
        feed: CallFeed | None = None,
        *,
        spool_dir: Path | None = None,
        memory_entries: int = MEMORY_ENTRIES,
    ):
        """Start the writer for one call (``spool_dir``: where entries wait on disk)."""
        self._store = store
        self._call_id = call_id
        self._feed = feed or CallFeed()
        self._pending: deque[JournalEntry] = deque()
        self._spool = JournalSpool(spool_dir, call_id) if spool_dir else None
        self._memory = memory_entries
        self._wake = asyncio.Event()
        self._closing = False
        self._outage_since: float | None = None
        self._tools_running = 0
        self._tool_answered = asyncio.Event()
        self.written = 0
        # The last line written, when it was the caller's.
        self._last_caller: TranscriptLine | None = None
        self._late: set[asyncio.Task] = set()
        self._task = asyncio.create_task(self._write_all(), name=f"journal-{call_id}")

    @property
    def waiting(self) -> int:
        """Entries not written yet that are held in memory."""
        return len(self._pending)

    def add(self, line: NewUtterance, *, resumed: Resumption | None = None) -> None:
        """Queue a transcript line (never blocks).

        Args:
            line: The line.
            resumed: For caller words that continue their previous ones: what they continue.
        """
        if line.text.strip():
            self._put(SaidLine(line, resumed))

    def call_opened(self, opened: OpenedCall) -> None:
        """Queue the row of a call answered while the database was away, ahead of its lines."""
        self._put(opened)

    def tool_started(self) -> None:
        """A tool call began: ``close`` waits for its record (``tool_called``) before it ends."""
        self._tools_running += 1

    def tool_called(self, record: NewToolCall) -> None:
        """Queue a tool call, to be stored (and told to the feed) in its place among the lines."""
        self._tools_running = max(0, self._tools_running - 1)
        self._tool_answered.set()
        self._put(record)

    async def close(self, wait: float = CLOSE_WAIT_SECS, tool_wait: float = TOOL_WAIT_SECS) -> bool:
        """Write what is queued, then stop; True when all of it was written.

        Tool calls still running are waited for first, up to ``tool_wait`` seconds (a
        transfer's tool answers after the call it moved has ended; its record belongs
        to that call). If the database is still away after ``wait`` seconds, what is
        unwritten is left in the spool (lost only where there is no spool folder).
        """
        await self._tools_answered(tool_wait)
        self._closing = True
        self._wake.set()
        done, _ = await asyncio.wait([self._task], timeout=wait)
        if done:
            return True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        left = list(self._pending)
        if self._spool is not None:
            self._spool.keep_first(left)
            logger.error(
                f"call {self._call_id}: the database is still unavailable; {len(left)} "
                f"transcript entries (and any spooled earlier) kept in {self._spool.path}"
            )
        else:
            logger.error(f"call {self._call_id}: {len(left)} transcript entries lost")
        return False

    async def _tools_answered(self, wait: float) -> None:
        try:
            async with asyncio.timeout(wait):
                while self._tools_running:
                    self._tool_answered.clear()
                    await self._tool_answered.wait()
        except TimeoutError:
            logger.warning(
                f"call {self._call_id}: {self._tools_running} tool call(s) still running "
                "at its end; not recorded"
            )

    def _put(self, entry: JournalEntry) -> None:
        if self._task.done():
            # Closed: the call ended before this came, e.g. a SIP transfer tool's result (the
            # transfer's BYE or bridge ends the pipeline while the tool is returning).
            task = asyncio.get_running_loop().create_task(self._write_through(entry))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
            return
        spool = self._spool
        if spool is not None and (spool.holds or len(self._pending) >= self._memory):
            spool.append([entry])
        else:
            self._pending.append(entry)
        self._wake.set()

    def _next(self) -> JournalEntry | None:
        if not self._pending and self._spool is not None and self._spool.holds:
            self._pending.extend(self._spool.take(self._memory))
        return self._pending[0] if self._pending else None

    async def _write_all(self) -> None:
        while True:
            entry = self._next()
            if entry is None:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._write_through(entry)
            self._pending.popleft()

    async def _write_through(self, entry: JournalEntry) -> None:
        """Write ``entry``, waiting out a database outage; give up only on a refused write."""
        refused = tries = 0
        while True:
            try:
                await self._write(entry)
                self._recovered()
                return
            except Exception as e:
                if is_outage(e):
                    self._unavailable(e)
                else:
                    refused += 1
                    if refused == RETRIES:
                        logger.error(
                            f"call {self._call_id}: transcript entry lost after {RETRIES} "
                            f"tries: {e}"
                        )
                        return
                    logger.warning(f"call {self._call_id}: transcript write failed ({e})")
                tries += 1
                await asyncio.sleep(min(0.1 * 2**tries, MAX_BACKOFF_SECS))

    def _unavailable(self, error: Exception) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            logger.warning(
                f"call {self._call_id}: database unavailable ({error.__class__.__name__}); "
                "keeping the transcript until it is back"
            )

    def _recovered(self) -> None:
        if self._outage_since is not None:
            lasted = time.monotonic() - self._outage_since
            self._outage_since = None
            logger.info(
                f"call {self._call_id}: database back after {lasted:.1f} s; "
                "writing the kept transcript"
            )

    async def _write(self, entry: JournalEntry) -> None:
        if isinstance(entry, OpenedCall):
            await self._store.save_opened(entry)
            return
        if isinstance(entry, NewToolCall):
            await self._store.add_tool_call(self._call_id, entry)
            self._feed.publish(
                ToolCalled(entry.name, entry.arguments, entry.ok, entry.result, entry.error)
            )
            return
        line, resumed = entry.line, entry.resumed
        last = self._last_caller
        # the caller's line these words complete, when there is one
        extends = last if resumed and last and last.text == resumed.before else None
        if extends is not None and resumed is not None:
            await self._store.extend_utterance(
                self._call_id, extends.seq, text=resumed.whole, ended_at=line.ended_at
            )
            written = replace(extends, text=resumed.whole, ended_at=line.ended_at)
        else:
            seq = await self._store.add_utterance(self._call_id, line)
            written = _written(seq, line)
            self.written += 1
        self._last_caller = written if written.role == "user" else None
        self._feed.publish(written)


async def write_spooled(store: CallStore, spool_dir: Path, call_id: str) -> bool:
    """Write what a call left in the spool (its process ended, or the database was away).

    Returns:
        Whether the spool was written to the end (False: the database is away; it stays).
    """
    journal = CallJournal(store, call_id, spool_dir=spool_dir)
    return await journal.close(wait=CLOSE_WAIT_SECS)


def _written(seq: int, line: NewUtterance) -> TranscriptLine:
    return TranscriptLine(
        seq=seq,
        role=line.role,
        text=line.text,
        started_at=line.started_at,
        ended_at=line.ended_at,
        interrupted=line.interrupted,
    )
