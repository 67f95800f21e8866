"""What happens next for a lead: tasks and callbacks, notes, appointments, do-not-call."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Appointment, DoNotCall, Lead, Note, Task, utcnow


class SlotTaken(ValueError):
    """The requested appointment overlaps one already booked."""


async def create_task(
    session: AsyncSession,
    *,
    kind: str,
    title: str,
    lead_id: str | None,
    due_at: datetime | None,
    reason: str | None = None,
    created_by: str = "system",
    call_id: str | None = None,
    assigned_to: str | None = None,
) -> Task:
    """A task for a person (``kind="task"``) or a callback for the dialer (``kind="callback"``)."""
    task = Task(
        kind=kind,
        title=title,
        lead_id=lead_id,
        due_at=due_at,
        reason=reason,
        created_by=created_by,
        call_id=call_id,
        assigned_to=assigned_to,
    )
    session.add(task)
    return task


async def add_note(
    session: AsyncSession,
    lead_id: str,
    body: str,
    *,
    author: str = "system",
    call_id: str | None = None,
) -> Note:
    """Attach a note to a lead."""
    note = Note(lead_id=lead_id, body=body, author=author, call_id=call_id)
    session.add(note)
    return note


async def book_appointment(
    session: AsyncSession,
    *,
    lead_id: str | None,
    starts_at: datetime,
    duration: timedelta,
    timezone: str | None,
    title: str | None = None,
    location: str | None = None,
    notes: str | None = None,
    resource: str = "default",
    call_id: str | None = None,
) -> Appointment:
    """Book a slot, refusing one that overlaps a booked appointment on the same resource.

    The overlap check and the insert run in the caller's transaction; on PostgreSQL the
    resource's booked rows are locked first so two calls cannot book the same slot.

    Raises:
        SlotTaken: With the conflicting appointment's start time.
    """
    ends_at = starts_at + duration
    query = select(Appointment).where(
        Appointment.resource == resource,
        Appointment.status == "booked",
        Appointment.starts_at < ends_at,
        Appointment.ends_at > starts_at,
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    clash = await session.scalar(query)
    if clash:
        raise SlotTaken(f"that time overlaps an appointment at {clash.starts_at.isoformat()}")
    appointment = Appointment(
        lead_id=lead_id,
        call_id=call_id,
        resource=resource,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=timezone,
        title=title,
        location=location,
        notes=notes,
    )
    session.add(appointment)
    return appointment


async def mark_do_not_call(
    session: AsyncSession, phone: str, *, reason: str | None, source: str, lead: Lead | None = None
) -> None:
    """Put a number on the do-not-call list (idempotent) and flag its lead."""
    if lead is not None:
        lead.do_not_call = True
        lead.consent_calls = False
    existing = await session.scalar(select(DoNotCall).where(DoNotCall.phone == phone))
    if existing is None:
        session.add(DoNotCall(phone=phone, reason=reason, source=source))
    # Open callbacks to a number that asked not to be called are void.
    if lead is not None:
        for task in await session.scalars(
            select(Task).where(
                Task.lead_id == lead.id, Task.kind == "callback", Task.status == "open"
            )
        ):
            task.status = "cancelled"
            task.completed_at = utcnow()


async def is_do_not_call(session: AsyncSession, phone: str) -> bool:
    """Whether a number is on the do-not-call list."""
    return await session.scalar(select(DoNotCall.id).where(DoNotCall.phone == phone)) is not None
