"""Leads: list, create, read, update, delete; stage moves and notes."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from crm.api.http import CRM, ApiError, ApiModel, Page, Routes, actor, body, not_found, page, query
from crm.api.records import LeadOut, NoteOut
from crm.api.responses import LeadDetail, LeadPage, StageHistory, StageMoved
from crm.audit import audit
from crm.followups import add_note
from crm.lead_changes import set_do_not_call, set_score, set_stage
from crm.lead_fields import LeadFields
from crm.leads import lead_by_phone
from crm.models import Appointment, Call, Lead, Note, StageChange, Task
from crm.phone_numbers import InvalidPhoneNumber, to_e164
from crm.shapes import (
    appointment_json,
    call_summary,
    lead_json,
    note_json,
    stage_change_json,
    task_json,
)
from crm.stages import StageError

api = Routes("leads")
SORTS = {
    "-created_at": Lead.created_at.desc(),
    "created_at": Lead.created_at,
    "-score": Lead.score.desc(),
    "score": Lead.score,
    "-last_contacted_at": Lead.last_contacted_at.desc(),
    "last_contacted_at": Lead.last_contacted_at,
    "name": Lead.name,
}


class LeadFilter(ApiModel):
    """Filters of the lead list and export."""

    stage: str | None = None
    band: str | None = None
    min_score: int | None = Field(default=None, ge=0, le=100)
    max_score: int | None = Field(default=None, ge=0, le=100)
    tag: str | None = None
    owner: str | None = None
    do_not_call: bool | None = None
    q: str | None = Field(
        default=None, max_length=100, description="in name, phone, email or company"
    )
    sort: Literal[tuple(SORTS)] = "-created_at"  # type: ignore[valid-type]


class LeadQuery(LeadFilter, Page):
    """Filters and paging of the lead list."""


def lead_conditions(params: LeadFilter, dialect: str) -> list:
    """SQL conditions for a lead filter."""
    conditions = [
        column == value
        for column, value in (
            (Lead.stage, params.stage),
            (Lead.band, params.band),
            (Lead.owner, params.owner),
        )
        if value
    ]
    if params.do_not_call is not None:
        conditions.append(Lead.do_not_call.is_(params.do_not_call))
    if params.min_score is not None:
        conditions.append(Lead.score >= params.min_score)
    if params.max_score is not None:
        conditions.append(Lead.score <= params.max_score)
    if params.tag:
        conditions.append(_has_tag(dialect, params.tag))
    if params.q:
        words = params.q.lower()  # % and _ are the caller's characters, not LIKE wildcards
        conditions.append(
            or_(
                *(
                    func.lower(c).contains(words, autoescape=True)
                    for c in (Lead.name, Lead.phone, Lead.email, Lead.company)
                )
            )
        )
    return conditions


class LeadCreate(LeadFields):
    """A new lead: a phone number (normalised to E.164) and any other field."""

    phone: str = Field(min_length=3, max_length=40)
    region: str | None = Field(
        default=None, min_length=2, max_length=2, description="country for local numbers"
    )
    stage: str | None = None
    do_not_call: bool | None = None


class LeadPatch(LeadFields):
    """Changes to a lead; ``stage`` moves it (with ``stageReason``); ``score`` overrides it."""

    phone: str | None = Field(default=None, min_length=3, max_length=40)
    region: str | None = Field(default=None, min_length=2, max_length=2)
    stage: str | None = None
    stage_reason: str | None = Field(default=None, max_length=500)
    score: int | None = Field(default=None, ge=0, le=100)
    do_not_call: bool | None = None


def e164(request: web.Request, raw: str, region: str | None) -> str:
    """A phone number in E.164 (400 naming the field when it is not one)."""
    try:
        return to_e164(raw, (region or request.app[CRM].settings.default_region).upper())
    except InvalidPhoneNumber as e:
        raise ApiError(
            400,
            "invalid_request",
            f"invalid body: phone: {e}",
            [{"field": "phone", "message": str(e)}],
        ) from None


class StageMove(ApiModel):
    """A stage move by hand."""

    stage: str
    reason: str | None = Field(default=None, max_length=500)


class NoteIn(ApiModel):
    """A note."""

    body: str = Field(min_length=1, max_length=10_000)


def _has_tag(dialect: str, tag: str):
    if dialect == "postgresql":
        return cast(Lead.tags, JSONB).contains([tag])
    elements = func.json_each(Lead.tags).table_valued("value")
    return select(literal(1)).select_from(elements).where(elements.c.value == tag).exists()


@api.route("GET", "/api/leads", query=LeadQuery, response=LeadPage)
async def list_leads(request: web.Request) -> web.Response:
    """Leads, filtered by stage, band, score, tag, owner or text, sorted (default newest first)."""
    params = query(request, LeadQuery)
    async with request.app[CRM].db.session() as session:
        conditions = lead_conditions(params, session.bind.dialect.name)
        total = await session.scalar(select(func.count()).select_from(Lead).where(*conditions)) or 0
        rows = await session.scalars(
            select(Lead)
            .where(*conditions)
            .order_by(SORTS[params.sort], Lead.id)
            .limit(params.limit)
            .offset(params.offset)
        )
        return page([lead_json(lead) for lead in rows], total, params)


@api.route("POST", "/api/leads", body=LeadCreate, response=LeadOut)
async def create_lead(request: web.Request) -> web.Response:
    """Create a lead (409 when the number is already a lead)."""
    new = await body(request, LeadCreate)
    crm, who = request.app[CRM], actor(request)
    new.phone = e164(request, new.phone, new.region)
    try:
        async with crm.db.session() as session:
            if await lead_by_phone(session, new.phone):
                raise ApiError(409, "conflict", "a lead with this phone number exists")
            lead = Lead(
                phone=new.phone,
                source=new.source or "api",
                stage=crm.policy.stages.names[0],
                score=0,
                band=crm.policy.scoring.band_for(0).name,
                tags=[],
                custom_fields={},
            )
            new.apply(lead)
            session.add(lead)
            await session.flush()
            audit(
                session,
                who,
                "lead.create",
                "lead",
                lead.id,
                {"fields": sorted(new.model_fields_set)},
            )
            if new.stage:
                await set_stage(session, crm.policy, lead, new.stage, reason="created", actor=who)
            if new.do_not_call:
                await set_do_not_call(session, lead, True, actor=who)
    except StageError as e:
        raise ApiError(
            400, "invalid_request", str(e), [{"field": "stage", "message": str(e)}]
        ) from None
    except IntegrityError:
        raise ApiError(409, "conflict", "a lead with this phone number exists") from None
    return web.json_response(lead_json(lead), status=201)


async def _lead(session, request: web.Request) -> Lead:
    lead = await session.get(Lead, request.match_info["lead_id"])
    if lead is None:
        raise not_found("lead")
    return lead


@api.route("GET", "/api/leads/{lead_id}", response=LeadDetail)
async def get_lead(request: web.Request) -> web.Response:
    """A lead with its recent calls, notes, open tasks, callbacks, appointments, stage history."""
    async with request.app[CRM].db.session() as session:
        lead = await _lead(session, request)
        lead_id = lead.id
        calls = await session.scalars(
            select(Call).where(Call.lead_id == lead_id).order_by(Call.created_at.desc()).limit(20)
        )
        notes = await session.scalars(
            select(Note).where(Note.lead_id == lead_id).order_by(Note.id.desc()).limit(50)
        )
        tasks = await session.scalars(
            select(Task).where(Task.lead_id == lead_id, Task.status == "open").order_by(Task.due_at)
        )
        visits = await session.scalars(
            select(Appointment)
            .where(Appointment.lead_id == lead_id)
            .order_by(Appointment.starts_at)
        )
        history = await session.scalars(
            select(StageChange).where(StageChange.lead_id == lead_id).order_by(StageChange.id)
        )
        return web.json_response(
            lead_json(lead)
            | {
                "calls": [call_summary(c) for c in calls],
                "notes": [note_json(n) for n in notes],
                "openTasks": [task_json(t) for t in tasks],
                "appointments": [appointment_json(a) for a in visits],
                "stageHistory": [stage_change_json(c) for c in history],
            }
        )


@api.route("PATCH", "/api/leads/{lead_id}", body=LeadPatch, response=LeadOut)
async def update_lead(request: web.Request) -> web.Response:
    """Change a lead's fields; ``stage`` moves it with history and rules; ``score`` overrides it."""
    changes = await body(request, LeadPatch)
    crm, who = request.app[CRM], actor(request)
    if changes.phone is not None:
        changes.phone = e164(request, changes.phone, changes.region)
    try:
        async with crm.db.session() as session:
            lead = await _lead(session, request)
            changed = changes.apply(lead)
            if changes.phone and changes.phone != lead.phone:
                if await lead_by_phone(session, changes.phone):
                    raise ApiError(409, "conflict", "another lead has this phone number")
                lead.phone, changed = changes.phone, [*changed, "phone"]
            if changed:
                audit(session, who, "lead.update", "lead", lead.id, {"fields": changed})
            if changes.stage is not None:
                await set_stage(
                    session, crm.policy, lead, changes.stage, reason=changes.stage_reason, actor=who
                )
            if changes.score is not None and changes.score != lead.score:
                await set_score(session, crm.policy, lead, changes.score, actor=who)
            if changes.do_not_call is not None and changes.do_not_call != lead.do_not_call:
                await set_do_not_call(session, lead, changes.do_not_call, actor=who)
            await session.flush()
            return web.json_response(lead_json(lead))
    except StageError as e:
        raise ApiError(
            400, "invalid_request", str(e), [{"field": "stage", "message": str(e)}]
        ) from None


@api.route("DELETE", "/api/leads/{lead_id}", status=204)
async def delete_lead(request: web.Request) -> web.Response:
    """Delete a lead with its notes, tasks and appointments.

    Its calls stay, unlinked; see erase for GDPR.
    """
    async with request.app[CRM].db.session() as session:
        lead = await _lead(session, request)
        await session.delete(lead)
        audit(session, actor(request), "lead.delete", "lead", lead.id)
    return web.Response(status=204)


@api.route("POST", "/api/leads/{lead_id}/stage", body=StageMove, response=StageMoved, status=200)
async def move_lead(request: web.Request) -> web.Response:
    """Move a lead to a stage, with a reason; ``stage_changed`` rules and webhooks follow."""
    move = await body(request, StageMove)
    crm = request.app[CRM]
    try:
        async with crm.db.session() as session:
            lead = await _lead(session, request)
            change = await set_stage(
                session, crm.policy, lead, move.stage, reason=move.reason, actor=actor(request)
            )
            await session.flush()
            result = {
                "lead": lead_json(lead),
                "change": stage_change_json(change) if change else None,
            }
    except StageError as e:
        raise ApiError(
            400, "invalid_request", str(e), [{"field": "stage", "message": str(e)}]
        ) from None
    if change is not None:
        crm.webhook_worker.wake()
    return web.json_response(result)


@api.route("GET", "/api/leads/{lead_id}/stages", response=StageHistory)
async def stage_history(request: web.Request) -> web.Response:
    """A lead's stage history, oldest first."""
    async with request.app[CRM].db.session() as session:
        lead = await _lead(session, request)
        rows = await session.scalars(
            select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id)
        )
        return web.json_response({"data": [stage_change_json(c) for c in rows]})


@api.route("POST", "/api/leads/{lead_id}/notes", body=NoteIn, response=NoteOut)
async def create_note(request: web.Request) -> web.Response:
    """Add a note to a lead."""
    note_in = await body(request, NoteIn)
    who = actor(request)
    async with request.app[CRM].db.session() as session:
        lead = await _lead(session, request)
        note = await add_note(session, lead.id, note_in.body, author=who)
        await session.flush()
        audit(session, who, "note.create", "lead", lead.id, {"noteId": note.id})
        return web.json_response(note_json(note), status=201)
