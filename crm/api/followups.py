"""Appointments, and tasks and callbacks: list, create, update."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field
from sqlalchemy import func, select

from crm.api.http import CRM, ApiError, ApiModel, Page, Routes, actor, body, not_found, page, query
from crm.api.records import AppointmentOut, TaskOut
from crm.api.responses import AppointmentPage, TaskPage
from crm.audit import audit
from crm.followups import SlotTaken, book_appointment, create_task
from crm.models import Appointment, Lead, Task, utcnow
from crm.shapes import appointment_json, task_json

api = Routes("follow-ups")


class AppointmentQuery(Page):
    """Filters of the appointment list."""

    start: AwareDatetime | None = Field(default=None, alias="from")
    end: AwareDatetime | None = Field(default=None, alias="to")
    lead_id: str | None = None
    status: Literal["booked", "cancelled", "done"] | None = None
    resource: str | None = None


class AppointmentIn(ApiModel):
    """A booking."""

    lead_id: str
    starts_at: AwareDatetime
    duration_minutes: int = Field(default=30, ge=5, le=24 * 60)
    timezone: str | None = None
    title: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    resource: str = Field(default="default", max_length=64)


class AppointmentPatch(ApiModel):
    """A status change (cancel, done) or notes."""

    status: Literal["booked", "cancelled", "done"] | None = None
    notes: str | None = Field(default=None, max_length=4000)


class TaskQuery(Page):
    """Filters of the task list."""

    kind: Literal["task", "callback"] | None = None
    status: Literal["open", "dialing", "done", "cancelled"] | None = None
    lead_id: str | None = None
    assigned_to: str | None = None
    due_before: AwareDatetime | None = None


class TaskIn(ApiModel):
    """A task for a person, or a callback for the dialer."""

    kind: Literal["task", "callback"] = "task"
    lead_id: str
    title: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=4000)
    due_at: AwareDatetime | None = None
    assigned_to: str | None = Field(default=None, max_length=128)


class TaskPatch(ApiModel):
    """Close, reopen, reschedule or reassign a task."""

    status: Literal["open", "done", "cancelled"] | None = None
    due_at: AwareDatetime | None = None
    assigned_to: str | None = Field(default=None, max_length=128)
    title: str | None = Field(default=None, min_length=1, max_length=200)


@api.route("GET", "/api/appointments", query=AppointmentQuery, response=AppointmentPage)
async def list_appointments(request: web.Request) -> web.Response:
    """Appointments by start time, filtered by date range, lead, status or resource."""
    params = query(request, AppointmentQuery)
    where = [
        c
        for c in (
            Appointment.starts_at >= params.start if params.start else None,
            Appointment.starts_at < params.end if params.end else None,
            Appointment.lead_id == params.lead_id if params.lead_id else None,
            Appointment.status == params.status if params.status else None,
            Appointment.resource == params.resource if params.resource else None,
        )
        if c is not None
    ]
    async with request.app[CRM].db.session() as session:
        total = (
            await session.scalar(select(func.count()).select_from(Appointment).where(*where)) or 0
        )
        rows = await session.scalars(
            select(Appointment)
            .where(*where)
            .order_by(Appointment.starts_at)
            .limit(params.limit)
            .offset(params.offset)
        )
        return page([appointment_json(a) for a in rows], total, params)


@api.route("POST", "/api/appointments", body=AppointmentIn, response=AppointmentOut)
async def create_appointment(request: web.Request) -> web.Response:
    """Book an appointment (409 when the slot overlaps a booked one on the same resource)."""
    new = await body(request, AppointmentIn)
    try:
        async with request.app[CRM].db.session() as session:
            if await session.get(Lead, new.lead_id) is None:
                raise ApiError(
                    400,
                    "invalid_request",
                    "no such lead",
                    [{"field": "leadId", "message": "no such lead"}],
                )
            row = await book_appointment(
                session,
                lead_id=new.lead_id,
                starts_at=new.starts_at,
                duration=timedelta(minutes=new.duration_minutes),
                timezone=new.timezone,
                title=new.title,
                location=new.location,
                notes=new.notes,
                resource=new.resource,
            )
            await session.flush()
            audit(
                session,
                actor(request),
                "appointment.create",
                "appointment",
                row.id,
                {"leadId": new.lead_id},
            )
    except SlotTaken as e:
        raise ApiError(409, "slot_taken", str(e)) from None
    return web.json_response(appointment_json(row), status=201)


@api.route(
    "PATCH",
    "/api/appointments/{appointment_id}",
    body=AppointmentPatch,
    response=AppointmentOut,
)
async def update_appointment(request: web.Request) -> web.Response:
    """Cancel an appointment, mark it done, or change its notes."""
    patch = await body(request, AppointmentPatch)
    async with request.app[CRM].db.session() as session:
        row = await session.get(Appointment, request.match_info["appointment_id"])
        if row is None:
            raise not_found("appointment")
        fields = patch.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in fields.items():
            setattr(row, name, value)
        audit(
            session,
            actor(request),
            "appointment.update",
            "appointment",
            row.id,
            {"fields": sorted(fields)},
        )
        return web.json_response(appointment_json(row))


async def _tasks(request: web.Request, kind: str | None) -> web.Response:
    params = query(request, TaskQuery)
    kind = kind or params.kind
    where = [
        c
        for c in (
            Task.kind == kind if kind else None,
            Task.status == params.status if params.status else None,
            Task.lead_id == params.lead_id if params.lead_id else None,
            Task.assigned_to == params.assigned_to if params.assigned_to else None,
            Task.due_at < params.due_before if params.due_before else None,
        )
        if c is not None
    ]
    async with request.app[CRM].db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
        rows = await session.scalars(
            select(Task)
            .where(*where)
            .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
            .limit(params.limit)
            .offset(params.offset)
        )
        return page([task_json(t) for t in rows], total, params)


@api.route("GET", "/api/tasks", query=TaskQuery, response=TaskPage)
async def list_tasks(request: web.Request) -> web.Response:
    """Tasks and callbacks, soonest due first."""
    return await _tasks(request, None)


@api.route("GET", "/api/callbacks", query=TaskQuery, response=TaskPage)
async def list_callbacks(request: web.Request) -> web.Response:
    """Callbacks (tasks of kind ``callback``), soonest due first."""
    return await _tasks(request, "callback")


@api.route("POST", "/api/tasks", body=TaskIn, response=TaskOut)
async def create_task_route(request: web.Request) -> web.Response:
    """Create a task or a callback."""
    new = await body(request, TaskIn)
    who = actor(request)
    async with request.app[CRM].db.session() as session:
        lead = await session.get(Lead, new.lead_id)
        if lead is None:
            raise ApiError(
                400,
                "invalid_request",
                "no such lead",
                [{"field": "leadId", "message": "no such lead"}],
            )
        if new.kind == "callback" and lead.do_not_call:
            raise ApiError(409, "do_not_call", "this lead is on the do-not-call list")
        task = await create_task(
            session,
            kind=new.kind,
            title=new.title,
            lead_id=lead.id,
            due_at=new.due_at or utcnow(),
            reason=new.reason,
            created_by=who,
            assigned_to=new.assigned_to,
        )
        await session.flush()
        audit(session, who, "task.create", "task", task.id, {"kind": new.kind, "leadId": lead.id})
        return web.json_response(task_json(task), status=201)


@api.route("PATCH", "/api/tasks/{task_id}", body=TaskPatch, response=TaskOut)
async def update_task(request: web.Request) -> web.Response:
    """Close, reopen, reschedule or reassign a task or callback."""
    patch = await body(request, TaskPatch)
    async with request.app[CRM].db.session() as session:
        task = await session.get(Task, request.match_info["task_id"])
        if task is None:
            raise not_found("task")
        fields = patch.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in fields.items():
            setattr(task, name, value)
        if patch.status in ("done", "cancelled"):
            task.completed_at = utcnow()
        elif patch.status == "open":
            task.completed_at = None
        audit(session, actor(request), "task.update", "task", task.id, {"fields": sorted(fields)})
        return web.json_response(task_json(task))
