"""Calls and their transcripts: written as the call happens, read by the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.db import Database
from crm.models import Call, ToolCall, Utterance, utcnow

# Provider statuses after which a call can change no more.
FINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})


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


class CallStore:
    """Reads and writes calls; every method is one short transaction."""

    def __init__(self, db: Database):
        """Bind the store to a database."""
        self._db = db

    async def open(self, new: NewCall) -> Call:
        """Create the call, or return the existing one if the provider retried its webhook."""
        async with self._db.session() as session:
            existing = await _by_provider_id(session, new.provider, new.provider_call_id)
            if existing:
                return existing
            call = Call(**asdict(new))
            session.add(call)
        return call

    async def get(self, call_id: str, *, with_transcript: bool = False) -> Call | None:
        """The call with that id, optionally with its utterances loaded."""
        async with self._db.session() as session:
            query = select(Call).where(Call.id == call_id)
            if with_transcript:
                query = query.options(selectinload(Call.utterances))
            return (await session.execute(query)).scalar_one_or_none()

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

    async def add_utterance(self, call_id: str, line: NewUtterance) -> int:
        """Append a line to the call's transcript and return its sequence number."""
        async with self._db.session() as session:
            last = await session.scalar(
                select(func.max(Utterance.seq)).where(Utterance.call_id == call_id)
            )
            seq = (last or 0) + 1
            session.add(Utterance(call_id=call_id, seq=seq, **asdict(line)))
        return seq

    async def add_tool_call(
        self,
        call_id: str,
        *,
        name: str,
        arguments: dict[str, Any],
        result: Any,
        ok: bool,
        error: str | None,
        duration_ms: float,
        tool_call_id: str | None = None,
    ) -> None:
        """Record a tool the assistant called during the call."""
        async with self._db.session() as session:
            session.add(
                ToolCall(
                    call_id=call_id,
                    tool_call_id=tool_call_id,
                    name=name,
                    arguments=arguments,
                    result=result,
                    ok=ok,
                    error=error,
                    duration_ms=duration_ms,
                )
            )

    async def finalize(
        self, call_id: str, *, end_reason: str, latency: dict[str, Any] | None = None
    ) -> None:
        """Close the call: end time, duration, why it ended and its latency summary.

        Idempotent: a call already ended keeps its first end time and reason.
        """
        now = utcnow()
        async with self._db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return
            if call.ended_at is None:
                call.ended_at = now
                call.end_reason = end_reason
                if call.started_at:
                    call.duration_seconds = round((now - call.started_at).total_seconds(), 3)
            if latency is not None:
                call.latency = latency
            if call.status not in FINAL_STATUSES:
                call.status = "completed"

    async def provider_status(
        self,
        provider: str,
        provider_call_id: str,
        status: str,
        *,
        duration_seconds: float | None = None,
    ) -> Call | None:
        """Apply a provider status callback; returns the call, or None if unknown."""
        async with self._db.session() as session:
            call = await _by_provider_id(session, provider, provider_call_id)
            if call is None:
                return None
            if call.status not in FINAL_STATUSES:
                call.status = status
            if status in FINAL_STATUSES and call.ended_at is None:
                call.ended_at = utcnow()
                call.end_reason = call.end_reason or f"provider-{status}"
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


async def _by_provider_id(session: AsyncSession, provider: str, provider_call_id: str) -> Call | None:
    return await session.scalar(
        select(Call).where(Call.provider == provider, Call.provider_call_id == provider_call_id)
    )
