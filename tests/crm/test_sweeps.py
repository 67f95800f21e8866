"""Periodic sweeps: inactivity rules once per silence, retention purging old transcripts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from crm.db import Database
from crm.models import AutomationRun, Call, Lead, Task, Utterance, utcnow
from crm.policy import Policy
from crm.retention import purge_old
from crm.rules.inactivity import sweep_inactivity
from crm.webhooks.outbox import WebhookSettings
from tests.crm.conftest import SALES_CALL, record_call


async def test_inactivity_fires_once_per_silence(database: Database, tmp_path: Path):
    (tmp_path / "quiet.json").write_text(
        json.dumps(
            {
                "trigger": "inactivity_days",
                "days": 7,
                "actions": [{"type": "schedule_callback", "in_hours": 0}],
            }
        )
    )
    policy = Policy.load(
        stages_file=None, scoring_file=None, rules_dir=tmp_path, webhooks=WebhookSettings()
    )
    now = utcnow()
    async with database.session() as session:
        session.add_all(
            [
                Lead(phone="+14155550201", last_contacted_at=now - timedelta(days=8)),
                Lead(phone="+14155550202", last_contacted_at=now - timedelta(days=2)),
                Lead(
                    phone="+14155550203",
                    last_contacted_at=now - timedelta(days=30),
                    do_not_call=True,
                ),
                Lead(phone="+14155550204", last_contacted_at=now - timedelta(days=30), stage="won"),
                Lead(phone="+14155550205", created_at=now - timedelta(days=9)),
            ]
        )
    assert await sweep_inactivity(database, policy, now=now) == 2
    assert await sweep_inactivity(database, policy, now=now) == 0, "once per silence"
    async with database.session() as session:
        leads = list(
            await session.scalars(
                select(Lead).join(Task, Task.lead_id == Lead.id).order_by(Lead.phone)
            )
        )
        assert [lead.phone for lead in leads] == ["+14155550201", "+14155550205"]
        leads[0].last_contacted_at = utcnow() + timedelta(
            minutes=1
        )  # talked again after the callback...
    assert await sweep_inactivity(database, policy, now=now + timedelta(days=7)) == 1, "202's turn"
    assert await sweep_inactivity(database, policy, now=now + timedelta(days=8)) == 1, (
        "...then silent for 7 days"
    )
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(AutomationRun)) == 4


async def test_retention_purges_old_transcripts_and_recordings(database: Database):
    old = await record_call(database, SALES_CALL, sid="CA-old")
    new = await record_call(database, SALES_CALL, sid="CA-new", phone="+14155550299")
    async with database.session() as session:
        row = await session.get(Call, old.id)
        row.ended_at, row.recording_url, row.outcome = (
            utcnow() - timedelta(days=40),
            "https://rec/old.wav",
            "interested",
        )
        row = await session.get(Call, new.id)
        # Ended now: the calls record_call makes end on a fixed date, 30 days old on 2026-12-02.
        row.recording_url, row.ended_at = "https://rec/new.wav", utcnow()
    assert await purge_old(database, 0) == {"utterances": 0, "recordings": 0, "webhooks": 0}
    counts = await purge_old(database, 30)
    assert counts["utterances"] == len(SALES_CALL) and counts["recordings"] == 1
    async with database.session() as session:
        kept = await session.scalar(
            select(func.count()).select_from(Utterance).where(Utterance.call_id == new.id)
        )
        gone = await session.scalar(
            select(func.count()).select_from(Utterance).where(Utterance.call_id == old.id)
        )
        row = await session.get(Call, old.id)
        assert (kept, gone, row.recording_url, row.outcome) == (
            len(SALES_CALL),
            0,
            None,
            "interested",
        )
        assert (await session.get(Call, new.id)).recording_url == "https://rec/new.wav"
        if database.is_sqlite:  # the search index forgets purged lines too
            hits = await session.scalar(
                text("SELECT count(*) FROM utterances_fts WHERE utterances_fts MATCH 'fiber'")
            )
            assert hits == 1
