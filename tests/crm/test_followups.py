"""Stages, tasks, notes, appointments and do-not-call, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.db import Database
from crm.followups import (
    SlotTaken,
    add_note,
    book_appointment,
    create_task,
    is_do_not_call,
    mark_do_not_call,
)
from crm.leads import LeadStore
from crm.models import Lead, Note, StageChange, Task
from crm.stages import DEFAULT_STAGES, StageError, Stages, move_stage

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_stages_config(tmp_path: Path):
    assert Stages.load(None).names == DEFAULT_STAGES
    path = tmp_path / "stages.json"
    path.write_text(
        json.dumps({"stages": ["new", "hot", "won", "lost"], "closed": ["won", "lost"]})
    )
    stages = Stages.load(path)
    assert stages.check("hot") == "hot" and stages.position("won") == 2
    with pytest.raises(StageError, match="stages are: new, hot, won, lost"):
        stages.check("qualified")
    path.write_text("{}")
    with pytest.raises(StageError, match="stages.json"):
        Stages.load(path)


async def test_stage_moves_are_recorded(database: Database):
    lead = await LeadStore(database).get_or_create("+14155550100", source="test")
    async with database.session() as session:
        lead = await session.get(Lead, lead.id)
        assert await move_stage(
            session, lead, "qualified", reason="budget confirmed", actor="assistant"
        )
        assert (
            await move_stage(session, lead, "qualified", reason="again", actor="assistant") is None
        )
    async with database.session() as session:
        changes = list(await session.scalars(select(StageChange)))
        assert [(c.from_stage, c.to_stage, c.actor) for c in changes] == [
            ("new", "qualified", "assistant")
        ]


async def test_double_booking_is_refused(database: Database):
    lead = await LeadStore(database).get_or_create("+14155550101", source="test")
    async with database.session() as session:
        await book_appointment(
            session, lead_id=lead.id, starts_at=T0, duration=timedelta(minutes=30), timezone="UTC"
        )
    with pytest.raises(SlotTaken):
        async with database.session() as session:
            await book_appointment(
                session,
                lead_id=lead.id,
                starts_at=T0 + timedelta(minutes=15),
                duration=timedelta(minutes=30),
                timezone="UTC",
            )
    async with database.session() as session:  # back to back is fine
        await book_appointment(
            session,
            lead_id=lead.id,
            starts_at=T0 + timedelta(minutes=30),
            duration=timedelta(minutes=30),
            timezone="UTC",
        )


async def test_do_not_call_cancels_open_callbacks(database: Database):
    lead = await LeadStore(database).get_or_create("+14155550102", source="test")
    async with database.session() as session:
        await create_task(session, kind="callback", title="Call back", lead_id=lead.id, due_at=T0)
        await add_note(session, lead.id, "prefers mornings")
    async with database.session() as session:
        row = await session.get(Lead, lead.id)
        await mark_do_not_call(session, row.phone, reason="asked", source="assistant", lead=row)
        await mark_do_not_call(session, row.phone, reason="again", source="assistant", lead=row)
    async with database.session() as session:
        assert await is_do_not_call(session, "+14155550102")
        assert (await session.get(Lead, lead.id)).do_not_call
        assert [t.status for t in await session.scalars(select(Task))] == ["cancelled"]
        assert [n.body for n in await session.scalars(select(Note))] == ["prefers mornings"]
