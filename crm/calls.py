"""Calls and their transcripts: written as the call happens, read by the API."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.call_leases import Lease
from crm.db import Database
from crm.models import Call, Lead, ToolCall, Utterance, new_id, utcnow

# Provider statuses after which a call can change no more.
FINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})
# A provider may report the end of an answered call before our media session finalizes it;
# its analysis waits this long for the transcript's last lines.
STATUS_GRACE = timedelta(seconds=30)
# No carrier keeps a call up longer (Twilio's own limit is 24 hours); a longer reported
# duration is a broken or forged report, not a call.
MAX_CALL_SECONDS = 24 * 3600.0


def plausible_duration(seconds: float | None) -> float | None:
    """A reported call duration clamped to 0..MAX_CALL_SECONDS; None for none or NaN/Infinity."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_CALL_SECONDS)


@dataclass(frozen=True)
class NewCall:
    """What the provider tells us when a call starts.

    ``extra`` is kept on the call; ``extra["variableValues"]`` fills the assistant's
    ``{{variables}}`` (e.g. an outbound campaign contact's fields).
    """

    provider: str
    provider_call_id: str
    direction: str = "inbound"
    from_number: str | None = None
    to_number: str | None = None
    assistant: str | None = None
    provider_account_id: str | None = None
    status: str = "ringing"
    lead_id: str | None = None
    campaign_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewUtterance:
    """One line of transcript."""

    role: str
    text: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    interrupted: bool = False
    latency: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewToolCall:
    """A tool the assistant called during a call, once it answered.

    Parameters:
        name: The tool.
        arguments: What the LLM passed (JSON-serializable).
        result: What the LLM read back (JSON-serializable).
        ok: Whether it did what was asked.
        error: Why not.
        duration_ms: How long it ran.
        tool_call_id: The LLM's id for the call.
        created_at: When it answered (it may be stored later, after a database outage).
    """

    name: str
    arguments: dict[str, Any]
    result: Any
    ok: bool = True
    error: str | None = None
    duration_ms: float | None = None
    tool_call_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class OpenedCall:
    """A call that was answered while the database was away: its row, to be written later.

    Parameters:
        call_id: The id the call was given (its stream and its lines carry it).
        new: The call as the provider told it.
        started_at: When its media started.
        stream_id: The provider's media stream id.
    """

    call_id: str
    new: NewCall
    started_at: datetime
    stream_id: str | None = None


class CallStore:
    """Reads and writes calls; every method is one short transaction."""

    def __init__(self, db: Database):
        """Bind the store to a database."""
        self._db = db

    async def open(self, new: NewCall, *, lease: Lease | None = None) -> Call:
        """Create the call, or return the existing one if the provider retried its webhook.

        Two webhooks for one new call racing each other both get the one row. ``lease``:
        the instance answering it holds it (until its media starts, wherever it lands).
        """
        try:
            async with self._db.session() as session:
                existing = await _by_provider_id(session, new.provider, new.provider_call_id)
                if existing:
                    return existing
                call = Call(**asdict(new))
                if lease is not None:
                    call.owner, call.lease_until = lease.owner, lease.until
                session.add(call)
            return call
        except IntegrityError:  # the other webhook inserted it first
            found = await self.by_provider_id(new.provider, new.provider_call_id)
            if found is None:
                raise
            return found

    @staticmethod
    def unsaved(new: NewCall, call_id: str | None = None) -> Call:
        """A call opened while the database is away (see :meth:`save_opened`), not stored yet."""
        return Call(id=call_id or new_id(), created_at=utcnow(), **asdict(new))

    async def save_opened(self, opened: OpenedCall) -> None:
        """Write the row of a call answered while the database was away (kept if it exists)."""
        async with self._db.session() as session:
            if await session.get(Call, opened.call_id) is not None:
                return
            call = Call(id=opened.call_id, **asdict(opened.new))
            call.provider_stream_id = opened.stream_id
            call.started_at = call.answered_at = opened.started_at
            if call.status not in FINAL_STATUSES:
                call.status = "in-progress"
            session.add(call)

    async def get(self, call_id: str, *, with_transcript: bool = False) -> Call | None:
        """The call with that id, optionally with its utterances loaded."""
        async with self._db.session() as session:
            query = select(Call).where(Call.id == call_id)
            if with_transcript:
                query = query.options(selectinload(Call.utterances))
            return (await session.execute(query)).scalar_one_or_none()

    async def by_provider_id(self, provider: str, provider_call_id: str) -> Call | None:
        """The call a provider knows by that id, or None."""
        async with self._db.session() as session:
            return await _by_provider_id(session, provider, provider_call_id)

    async def stream_started(self, call_id: str, stream_id: str) -> None:
        """Record that media is flowing: the call is answered and in progress."""
        now = utcnow()
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return
            call.provider_stream_id = stream_id
            call.started_at = call.started_at or now
            call.answered_at = call.answered_at or now
            if call.status not in FINAL_STATUSES:
                call.status = "in-progress"

    async def record_language(self, call_id: str, language: str, *, heard: bool = True) -> None:
        """The call is held in ``language`` (ISO 639-1).

        ``heard``: the caller was heard speaking it (a bilingual call), so it is their
        lead's language from now on too.
        """
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return
            call.language = language
            lead = await session.get(Lead, call.lead_id) if heard and call.lead_id else None
            if lead is not None:
                lead.language = language

    async def add_utterance(self, call_id: str, line: NewUtterance) -> int:
        """Append a line to the call's transcript and return its sequence number."""
        async with self._db.session() as session:
            last = await session.scalar(
                select(func.max(Utterance.seq)).where(Utterance.call_id == call_id)
            )
            seq = (last or 0) + 1
            session.add(Utterance(call_id=call_id, seq=seq, **asdict(line)))
        return seq

    async def extend_utterance(
        self, call_id: str, seq: int, *, text: str, ended_at: datetime | None
    ) -> None:
        """Rewrite a line whose speaker went on after a pause: the whole text, the later end."""
        async with self._db.session() as session:
            await session.execute(
                update(Utterance)
                .where(Utterance.call_id == call_id, Utterance.seq == seq)
                .values(text=text, ended_at=ended_at)
            )

    async def add_tool_call(self, call_id: str, record: NewToolCall) -> None:
        """Record a tool the assistant called during the call."""
        async with self._db.session() as session:
            session.add(ToolCall(call_id=call_id, **asdict(record)))

    async def recording_started(
        self, call_id: str, *, key: str, started_at: datetime, url: str
    ) -> None:
        """The call is being recorded to ``key`` (set at once, so a crash still finds the file)."""
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is not None:
                call.recording_key, call.recording_started_at = key, started_at
                call.recording_url = url

    async def recording_finished(self, call_id: str, *, seconds: float, size: int) -> None:
        """The recording is complete: its length and size in bytes."""
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is not None and call.recording_key:
                call.recording_seconds, call.recording_bytes = round(seconds, 3), size

    async def finalize(
        self,
        call_id: str,
        *,
        end_reason: str,
        latency: dict[str, Any] | None = None,
        ended_at: datetime | None = None,
        status: str = "completed",
    ) -> None:
        """Close the call: end time, duration, why it ended and its latency summary.

        ``ended_at`` is when the call's media ended, if known (the last of what was
        said may be transcribed and stored a few seconds later); default: now.
        Idempotent: a call already ended keeps its first end time and reason (a generic
        provider reason such as ``provider-completed`` gives way to the session's).
        ``status``: the final status of a call not already in one (the carrier's, when it
        said how a lost call went).
        """
        now = utcnow()
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return
            if call.ended_at is None:
                ended = min(now, max(ended_at or now, call.started_at or call.created_at or now))
                call.ended_at = ended
                call.end_reason = end_reason
                if call.started_at:
                    call.duration_seconds = round((ended - call.started_at).total_seconds(), 3)
            elif (call.end_reason or "").startswith("provider-"):
                # The provider's "completed" may land first; the session knows why it ended.
                call.end_reason = end_reason
            if latency is not None:
                call.latency = latency
            if call.status not in FINAL_STATUSES:
                call.status = status
            _queue_analysis(call, now)

    async def overflowed(
        self,
        call_id: str,
        end_reason: str,
        *,
        status: str = "completed",
        transfer_target: str | None = None,
    ) -> None:
        """A call that found every line busy: answered by the overflow, ended with ``end_reason``.

        ``status``: ``completed`` when the caller heard or was handed something, ``busy``
        when the call was refused (SIP's 503).
        """
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return
            if transfer_target:
                call.transfer_target = transfer_target[:200]
            if call.status not in FINAL_STATUSES:
                call.status = status
        await self.finalize(call_id, end_reason=end_reason)

    async def provider_status(
        self,
        provider: str,
        provider_call_id: str,
        status: str,
        *,
        call_id: str | None = None,
        duration_seconds: float | None = None,
        answered_by: str | None = None,
    ) -> Call | None:
        """Apply a provider status callback; returns the call, or None if unknown.

        ``call_id`` (our id, carried on outbound callback URLs) finds calls whose
        provider id we have not stored yet. ``answered_by`` is answering-machine
        detection's verdict (Twilio's ``AnsweredBy``: human, machine_start, fax...); a
        machine makes the call's outcome ``voicemail``.
        """
        async with self._db.session() as session:
            call = await session.get(Call, call_id) if call_id else None
            call = call or await _by_provider_id(session, provider, provider_call_id)
            if call is None:
                return None
            call.provider_call_id = call.provider_call_id or provider_call_id
            if call.status not in FINAL_STATUSES:
                call.status = status
            now = utcnow()
            if status == "in-progress" and call.answered_at is None:
                call.answered_at = now
            if answered_by:
                call.answered_by = answered_by[:24]
            if status in FINAL_STATUSES and call.ended_at is None:
                call.ended_at = now
                call.end_reason = call.end_reason or f"provider-{status}"
                _queue_analysis(
                    call, call.ended_at + (STATUS_GRACE if call.answered_at else timedelta(0))
                )
            duration_seconds = plausible_duration(duration_seconds)
            if duration_seconds is not None:
                call.duration_seconds = duration_seconds
            return call

    async def list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Call], int]:
        """A page of calls, newest first, and the total count."""
        async with self._db.session() as session:
            total = await session.scalar(select(func.count()).select_from(Call)) or 0
            rows = await session.scalars(
                select(Call).order_by(Call.created_at.desc(), Call.id).limit(limit).offset(offset)
            )
            return list(rows), total


def _queue_analysis(call: Call, due: datetime) -> None:
    """Queue the post-call job in the transaction that ends the call (durable across crashes)."""
    if call.analysis_status is None:
        call.analysis_status, call.analysis_next_at = "pending", due
    elif call.analysis_status == "pending" and not call.analysis_attempts:
        call.analysis_next_at = min(call.analysis_next_at or due, due)


async def _by_provider_id(
    session: AsyncSession, provider: str, provider_call_id: str
) -> Call | None:
    return await session.scalar(
        select(Call).where(Call.provider == provider, Call.provider_call_id == provider_call_id)
    )
