"""Built-in tools on the caller's lead: look it up, update it, note things, move its stage."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select

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
from agent.tools.call import hand_off
from crm.analysis.result import BANT
from crm.followups import add_note
from crm.lead_changes import qualified_in_call
from crm.models import Appointment, Call, Task
from crm.rules.changes import HandOff
from crm.stages import StageError, move_stage


class NoArgs(ToolArgs):
    """No arguments."""


async def lookup_lead(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """What the CRM knows about the caller, upcoming appointments and open callbacks included."""
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        now = context.now()
        appointments = await session.scalars(
            select(Appointment)
            .where(
                Appointment.lead_id == lead.id,
                Appointment.status == "booked",
                Appointment.starts_at >= now,
            )
            .order_by(Appointment.starts_at)
            .limit(5)
        )
        callbacks = await session.scalars(
            select(Task)
            .where(Task.lead_id == lead.id, Task.kind == "callback", Task.status == "open")
            .limit(5)
        )
        known = {
            "name": lead.name,
            "email": lead.email,
            "company": lead.company,
            "stage": lead.stage,
            "score": lead.score,
            "timezone": context.timezone,
            "doNotCall": lead.do_not_call,
            **{field: getattr(lead, field) for field in BANT},
            "customFields": lead.custom_fields or {},
            "tags": lead.tags or [],
            "upcomingAppointments": [
                {"startsAt": a.starts_at.isoformat(), "title": a.title} for a in appointments
            ],
            "openCallbacks": [
                {"dueAt": t.due_at.isoformat() if t.due_at else None, "reason": t.reason}
                for t in callbacks
            ],
        }
    return ToolResult(value={k: v for k, v in known.items() if v not in (None, [], {})})


class UpdateLeadArgs(ToolArgs):
    """What the caller told us about themselves."""

    name: str | None = Field(None, max_length=200, description="The caller's full name")
    email: str | None = Field(None, max_length=320, description="Email address")
    company: str | None = Field(None, max_length=200, description="Company or organisation")
    budget: str | None = Field(
        None, max_length=500, description="Budget, in the caller's words (e.g. '300k USD')"
    )
    authority: str | None = Field(
        None, max_length=500, description="Who decides, and whether the caller does"
    )
    need: str | None = Field(None, max_length=1000, description="What they need or want")
    timeline: str | None = Field(None, max_length=500, description="When they want to buy or start")
    custom_fields: dict[str, str | int | float | bool] | None = Field(
        None, description='Other facts as key-value pairs, e.g. {"location": "Nuevo Vallarta"}'
    )
    tags: list[str] | None = Field(None, description='Labels to add, e.g. ["hot"]')

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and ("@" not in value or " " in value):
            raise ValueError("not an email address; ask the caller to spell it")
        return value.lower() if value else value


async def update_lead(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Save what the caller said about themselves on their lead.

    BANT answers new to the lead raise its score at once and run the rules in the call
    (:func:`crm.lead_changes.qualified_in_call`); a rule's live transfer (a HOT lead)
    is carried out once they are saved.
    """
    args: UpdateLeadArgs = parse_args(UpdateLeadArgs, arguments)
    changes = args.model_dump(exclude_none=True)
    if not changes:
        raise ToolError("nothing to update: pass at least one field")
    hand_offs: list[HandOff] = []
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        answered = [f for f in BANT if changes.get(f) and not getattr(lead, f)]
        for field in ("name", "email", "company", *BANT):
            if field in changes:
                setattr(lead, field, changes[field])
        if args.custom_fields:
            lead.custom_fields = {**(lead.custom_fields or {}), **args.custom_fields}
        if args.tags:
            lead.tags = list(dict.fromkeys([*(lead.tags or []), *args.tags]))
        if answered and context.policy is not None:
            call = await session.get(Call, context.call_id) if context.call_id else None
            hand_offs = await qualified_in_call(session, context.policy, lead, call, answered)
    saved = f"Saved on the lead: {', '.join(changes)}."
    if hand_offs:
        return await hand_off(context, hand_offs[0], saved)
    return ToolResult(value=saved)


class AddNoteArgs(ToolArgs):
    """A note for the team."""

    text: str = Field(
        min_length=1, max_length=4000, description="The note, in one or two sentences"
    )


async def add_note_tool(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Attach a note to the caller's lead."""
    args: AddNoteArgs = parse_args(AddNoteArgs, arguments)
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        await add_note(session, lead.id, args.text, author="assistant", call_id=context.call_id)
    return ToolResult(value="Note saved.")


class SetStageArgs(ToolArgs):
    """A move through the sales pipeline."""

    stage: str = Field(description="The new pipeline stage")
    reason: str | None = Field(None, max_length=1000, description="Why, in one sentence")


async def set_stage(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Move the caller's lead to another pipeline stage (recorded with the reason)."""
    args: SetStageArgs = parse_args(SetStageArgs, arguments)
    try:
        stage = context.stages.check(args.stage.strip().lower())
    except StageError as e:
        raise ToolError(str(e)) from None
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        moved = await move_stage(
            session, lead, stage, reason=args.reason, actor="assistant", call_id=context.call_id
        )
    return ToolResult(
        value=f"The lead is now in stage '{stage}'."
        if moved
        else f"The lead was already in stage '{stage}'."
    )


def _stage_choices(tool: Tool, context: ToolContext) -> dict[str, Any]:
    """``set_stage``'s schema with the call's stages as an enum, so the LLM picks a real one."""
    properties = {**tool.parameters["properties"]}
    properties["stage"] = {**properties["stage"], "enum": list(context.stages.names)}
    return {**tool.parameters, "properties": properties}


LEAD_TOOLS = [
    Tool(
        "lookup_lead",
        "Look up what we know about the caller: name, company, stage, qualification, upcoming "
        "appointments and open callbacks. Use it before asking for things we may already know.",
        json_schema(NoArgs),
        lookup_lead,
    ),
    Tool(
        "update_lead",
        "Save what the caller tells you about themselves: "
        "name, email, company, and qualification (budget, authority, need, timeline), "
        "plus any other facts as custom_fields. Call it as soon as you learn something; "
        "pass only what you learned.",
        json_schema(UpdateLeadArgs),
        update_lead,
    ),
    Tool(
        "add_note",
        "Leave a short note about the caller for the team.",
        json_schema(AddNoteArgs),
        add_note_tool,
    ),
    Tool(
        "set_stage",
        "Move the caller's lead to another stage of the sales pipeline when the conversation "
        "shows it (e.g. qualified), with the reason.",
        json_schema(SetStageArgs),
        set_stage,
        call_parameters=_stage_choices,
    ),
]
