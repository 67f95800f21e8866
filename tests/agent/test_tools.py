"""Each built-in tool against the real database (SQLite and PostgreSQL), through execute()."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent.assistant import Assistant
from agent.tool_config import TransferDestination
from agent.tools import DtmfFailed, ToolContext, TransferFailed, execute, resolve_tools
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.followups import is_do_not_call
from crm.leads import LeadStore
from crm.models import Appointment, Call, Lead, Note, StageChange, Task, ToolCall

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Monday 12:00 in New York
ZONE = "America/New_York"
PHONE = "+14155550142"
ALL_TOOLS = [
    "lookup_lead",
    "update_lead",
    "book_appointment",
    "schedule_callback",
    "add_note",
    "set_stage",
    "opt_out",
]


@dataclass
class LiveCall:
    """Stands in for the live call a tool acts on, and remembers what it was asked to do."""

    said: list[str] = field(default_factory=list)
    hung_up: list[tuple[str, str | None]] = field(default_factory=list)
    transfers: list[TransferDestination] = field(default_factory=list)
    briefs: list = field(default_factory=list)
    refuse_transfer: bool = False
    keys: list[str] = field(default_factory=list)
    refuse_keys: bool = False

    async def say(self, text: str) -> None:
        self.said.append(text)

    async def hang_up(self, reason: str, goodbye: str | None) -> None:
        self.hung_up.append((reason, goodbye))

    async def transfer(
        self, destination: TransferDestination, announcement: str, brief=None
    ) -> None:
        self.said.append(announcement)
        self.briefs.append(brief)
        if self.refuse_transfer:
            raise TransferFailed("Twilio answered HTTP 400")
        self.transfers.append(destination)

    async def send_dtmf(self, keys: str) -> None:
        if self.refuse_keys:
            raise DtmfFailed("twilio cannot send DTMF")
        self.keys.append(keys)


def assistant(**extra) -> Assistant:
    tools = [{"type": "function", "function": {"name": n}} for n in ALL_TOOLS]
    tools += [
        {
            "type": "transferCall",
            "destinations": [{"type": "number", "number": "+14155550199", "message": "Hold on."}],
        },
        {"type": "endCall"},
        {"type": "dtmf"},
    ]
    return Assistant.model_validate(
        {"name": "t", "endCallMessage": "Bye now.", "model": {"tools": tools}, **extra}
    )


@pytest.fixture
async def call(database: Database) -> ToolContext:
    lead = await LeadStore(database).get_or_create(PHONE, source="test")
    calls = CallStore(database)
    row = await calls.open(
        NewCall(provider="twilio", provider_call_id="CA1", from_number=PHONE, lead_id=lead.id)
    )
    config = assistant()
    return ToolContext(
        db=database,
        calls=calls,
        assistant=config,
        tools=resolve_tools(config).tools,
        call_id=row.id,
        lead_id=lead.id,
        phone=PHONE,
        timezone=ZONE,
        control=LiveCall(),
        now=lambda: NOW,
    )


async def lead_of(context: ToolContext) -> Lead:
    async with context.db.session() as session:
        return await session.get(Lead, context.lead_id)


async def all_rows(context: ToolContext, model):
    async with context.db.session() as session:
        return list(await session.scalars(select(model)))


async def test_update_then_lookup_lead(call: ToolContext):
    result = await execute(
        "update_lead",
        {
            "name": "Ana López",
            "email": "Ana@Example.com",
            "budget": "300k USD",
            "timeline": "this summer",
            "custom_fields": {"location": "beach"},
            "tags": ["hot"],
        },
        call,
    )
    assert result.ok, result.error
    lead = await lead_of(call)
    assert (lead.name, lead.email, lead.budget, lead.custom_fields, lead.tags) == (
        "Ana López",
        "ana@example.com",
        "300k USD",
        {"location": "beach"},
        ["hot"],
    )
    found = await execute("lookup_lead", {}, call)
    assert found.value["name"] == "Ana López" and found.value["customFields"] == {
        "location": "beach"
    }
    assert found.value["timezone"] == ZONE


async def test_bad_arguments_go_back_to_the_llm_and_are_recorded(call: ToolContext):
    result = await execute("update_lead", {"email": "not an email"}, call)
    assert not result.ok and "email" in result.error and "spell" in result.error
    result = await execute("no_such_tool", {}, call)
    assert not result.ok and "there is no tool named 'no_such_tool'" in result.error
    records = await all_rows(call, ToolCall)
    assert [(r.name, r.ok) for r in records] == [("update_lead", False), ("no_such_tool", False)]
    assert records[0].arguments == {"email": "not an email"} and records[0].duration_ms >= 0


async def test_book_appointment_in_the_callers_zone_refuses_double_booking(call: ToolContext):
    booked = await execute(
        "book_appointment", {"start": "2026-03-03T10:00", "title": "Visit"}, call
    )
    assert booked.ok, booked.error
    assert booked.value["say"] == "You're booked for Tuesday, March 3 at 10:00 AM."
    [appointment] = await all_rows(call, Appointment)
    assert appointment.starts_at == datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo(ZONE))
    assert (appointment.timezone, appointment.lead_id, appointment.call_id) == (
        ZONE,
        call.lead_id,
        call.call_id,
    )

    taken = await execute("book_appointment", {"start": "2026-03-03T10:15"}, call)
    assert not taken.ok
    assert "Tuesday, March 3 at 10:15 AM is already taken" in taken.error
    assert "10:45 AM" in taken.error, "the nearest free slots are offered"
    past = await execute("book_appointment", {"start": "2026-03-01T10:00"}, call)
    assert not past.ok and "in the past" in past.error
    garbage = await execute("book_appointment", {"start": "next tuesday"}, call)
    assert not garbage.ok and "ISO 8601" in garbage.error
    assert len(await all_rows(call, Appointment)) == 1


async def test_spanish_assistant_confirms_in_spanish(call: ToolContext):
    call.assistant = assistant(transcriber={"language": "es"})
    call.timezone = "Europe/Madrid"
    booked = await execute(
        "book_appointment", {"start": "2026-03-03T17:30", "duration_minutes": 60}, call
    )
    assert booked.value["say"] == "Cita reservada para el martes 3 de marzo a las 17:30."


async def test_schedule_callback_add_note_and_set_stage(call: ToolContext):
    result = await execute(
        "schedule_callback", {"when": "2026-03-04T17:00", "reason": "wants to talk to spouse"}, call
    )
    assert (
        result.ok and result.value["say"] == "We'll call you back on Wednesday, March 4 at 5:00 PM."
    )
    [task] = await all_rows(call, Task)
    assert (task.kind, task.status, task.created_by) == ("callback", "open", "assistant")
    assert task.due_at == datetime(2026, 3, 4, 22, 0, tzinfo=UTC)

    assert (await execute("add_note", {"text": "Prefers mornings."}, call)).ok
    [note] = await all_rows(call, Note)
    assert (note.body, note.author, note.call_id) == (
        "Prefers mornings.",
        "assistant",
        call.call_id,
    )

    moved = await execute("set_stage", {"stage": "Qualified", "reason": "budget confirmed"}, call)
    assert moved.ok and (await lead_of(call)).stage == "qualified"
    [change] = await all_rows(call, StageChange)
    assert (change.from_stage, change.to_stage, change.actor) == ("new", "qualified", "assistant")
    wrong = await execute("set_stage", {"stage": "hot"}, call)
    assert not wrong.ok and "stages are: new, contacted, qualified" in wrong.error


async def test_opt_out_lists_the_number_and_ends_politely(call: ToolContext):
    await execute("schedule_callback", {"when": "2026-03-04T17:00", "reason": "follow up"}, call)
    result = await execute("opt_out", {"reason": "not interested"}, call)
    assert result.ok and not result.run_llm
    async with call.db.session() as session:
        assert await is_do_not_call(session, PHONE)
    assert (await lead_of(call)).do_not_call
    assert [t.status for t in await all_rows(call, Task)] == ["cancelled"]
    assert call.control.hung_up == [("opted-out", call.phrases.opt_out)]
    refused = await execute(
        "schedule_callback", {"when": "2026-03-05T17:00", "reason": "again"}, call
    )
    assert not refused.ok and "asked not to be called" in refused.error


async def test_end_call_says_the_end_call_message(call: ToolContext):
    result = await execute("end_call", {}, call)
    assert result.ok and not result.run_llm
    assert call.control.hung_up == [("assistant-hangup", "Bye now.")]


async def test_transfer_to_human_and_its_failure(call: ToolContext):
    args = {"reason": "pricing question", "summary": "Wants the premium plan price."}
    result = await execute("transfer_to_human", args, call)
    assert result.ok and not result.run_llm
    assert [d.number for d in call.control.transfers] == ["+14155550199"] and call.control.said == [
        "Hold on."
    ]
    [brief] = call.control.briefs
    assert (brief.reason, brief.summary) == (args["reason"], args["summary"]), "for the whisper"
    [note] = await all_rows(call, Note)
    assert note.body == "Transfer to +14155550199: pricing question. Wants the premium plan price."
    async with call.db.session() as session:
        assert (await session.get(Call, call.call_id)).transfer_target == "+14155550199"

    call.control = LiveCall(refuse_transfer=True)
    failed = await execute("transfer_to_human", args, call)
    assert not failed.ok and failed.spoke and "HTTP 400" in failed.error
    assert call.control.said == ["Hold on.", call.phrases.transfer_failed], (
        "says so and offers a callback"
    )


async def test_dtmf_presses_keys_and_waits_for_the_menu(call: ToolContext):
    result = await execute("dtmf", {"keys": "1, 2 W #"}, call)
    assert result.ok and not result.run_llm, "the LLM waits for what the menu says next"
    assert call.control.keys == ["12ww#"], "separators dropped, W is two half-second waits"

    wrong = await execute("dtmf", {"keys": "1a"}, call)
    assert not wrong.ok and "'a'" in wrong.error and call.control.keys == ["12ww#"]

    call.control = LiveCall(refuse_keys=True)
    refused = await execute("dtmf", {"keys": "3"}, call)
    assert not refused.ok and refused.run_llm and "cannot send DTMF" in refused.error
    assert "say the option" in refused.value, "the LLM can answer the menu out loud instead"
    records = await all_rows(call, ToolCall)
    assert [(r.name, r.ok) for r in records] == [("dtmf", True), ("dtmf", False), ("dtmf", False)]


async def test_anonymous_caller_has_no_lead(call: ToolContext):
    call.lead_id = None
    result = await execute("update_lead", {"name": "X"}, call)
    assert not result.ok and "no lead record" in result.error
