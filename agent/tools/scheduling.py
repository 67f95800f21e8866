"""Built-in calendar tools: appointments and callbacks, in the caller's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import select

from agent.clock import SlotError, parse_local, spoken
from agent.phrases import phrases_for
from agent.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    caller_lead,
    json_schema,
    parse_args,
)
from crm.followups import SlotTaken, book_appointment, create_task
from crm.models import Appointment

SUGGESTIONS = 2
SEARCH_STEPS = 16


def _when(text: str, context: ToolContext, *, what: str) -> datetime:
    try:
        moment = parse_local(text, context.timezone)
    except SlotError as e:
        raise ToolError(str(e)) from None
    if moment <= context.now():
        now = spoken(context.now(), context.timezone)
        raise ToolError(
            f"that {what} is in the past (it is now {now} for the caller); ask for a later time"
        )
    return moment


def calendar_of(context: ToolContext) -> str:
    """The calendar appointments go on: the assistant's ``metadata.calendar``, else ``default``."""
    return str(context.assistant.metadata.get("calendar") or "default")


class BookArgs(ToolArgs):
    """A slot to book."""

    start: str = Field(
        description=(
            "Start as ISO 8601 in the caller's local time, e.g. 2026-03-10T10:00 (no offset)"
        )
    )
    duration_minutes: int = Field(30, ge=5, le=480, description="Length in minutes (default 30)")
    title: str | None = Field(
        None, max_length=200, description="What it is, e.g. 'Visit to the show villa'"
    )
    location: str | None = Field(None, max_length=200, description="Where, if it is not a call")
    notes: str | None = Field(None, max_length=2000, description="Anything the team should know")


async def _free_slots(context: ToolContext, start: datetime, duration: timedelta) -> list[datetime]:
    """The next free starts after ``start``, stepping by the slot length."""
    async with context.db.session() as session:
        booked = list(
            await session.scalars(
                select(Appointment).where(
                    Appointment.resource == calendar_of(context),
                    Appointment.status == "booked",
                    Appointment.ends_at > start,
                    Appointment.starts_at < start + duration * (SEARCH_STEPS + 1),
                )
            )
        )
    free = []
    for step in range(1, SEARCH_STEPS + 1):
        candidate = start + duration * step
        if not any(a.starts_at < candidate + duration and a.ends_at > candidate for a in booked):
            free.append(candidate)
        if len(free) == SUGGESTIONS:
            break
    return free


async def book(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Book a slot for the caller; a taken slot is refused with the nearest free ones."""
    args: BookArgs = parse_args(BookArgs, arguments)
    start = _when(args.start, context, what="time")
    duration = timedelta(minutes=args.duration_minutes)
    language = context.assistant.language
    try:
        async with context.db.session() as session:
            lead = await caller_lead(session, context)
            appointment = await book_appointment(
                session,
                lead_id=lead.id,
                starts_at=start,
                duration=duration,
                timezone=context.timezone,
                title=args.title,
                location=args.location,
                notes=args.notes,
                resource=calendar_of(context),
                call_id=context.call_id,
            )
    except SlotTaken:
        free = await _free_slots(context, start, duration)
        options = " or ".join(spoken(s, context.timezone, language) for s in free)
        raise ToolError(
            f"{spoken(start, context.timezone, language)} is already taken"
            + (
                f"; the nearest free times are {options}. Offer them to the caller."
                if free
                else "."
            )
        ) from None
    say = phrases_for(language).booked.format(when=spoken(start, context.timezone, language))
    return ToolResult(
        value={
            "status": "booked",
            "say": say,
            "appointmentId": appointment.id,
            "startsAt": start.isoformat(),
            "durationMinutes": args.duration_minutes,
            "timezone": context.timezone,
        }
    )


class CallbackArgs(ToolArgs):
    """When and why to call the caller back."""

    when: str = Field(
        description="When to call back, ISO 8601 in the caller's local time, e.g. 2026-03-11T17:00"
    )
    reason: str = Field(min_length=1, max_length=1000, description="Why, in one sentence")


async def schedule_callback(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Create a callback task for the dialer/team at the time the caller asked for."""
    args: CallbackArgs = parse_args(CallbackArgs, arguments)
    due = _when(args.when, context, what="callback time")
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        if lead.do_not_call:
            raise ToolError("this caller asked not to be called; do not promise a callback")
        task = await create_task(
            session,
            kind="callback",
            title=f"Call back {lead.name or lead.phone}",
            lead_id=lead.id,
            due_at=due,
            reason=args.reason,
            created_by="assistant",
            call_id=context.call_id,
        )
    language = context.assistant.language
    when = spoken(due, context.timezone, language)
    say = phrases_for(language).callback_scheduled.format(when=when)
    return ToolResult(
        value={"status": "scheduled", "say": say, "taskId": task.id, "dueAt": due.isoformat()}
    )


SCHEDULING_TOOLS = [
    Tool(
        "book_appointment",
        "Book an appointment (a visit, a demo, a consultation) for the caller once they agreed on "
        "a day and time. Times are the caller's local time. "
        "If the slot is taken you get the nearest free times to offer. "
        "Read the 'say' field back to confirm.",
        json_schema(BookArgs),
        book,
    ),
    Tool(
        "schedule_callback",
        "Schedule a call back to the caller at the time they asked for (their local time), "
        "with the reason.",
        json_schema(CallbackArgs),
        schedule_callback,
    ),
]
