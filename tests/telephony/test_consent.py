"""Consent: a lead who refused calls is never dialled, one who refused recording is not recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.assistant import Assistant, announced
from config import Settings
from crm.db import Database
from crm.followups import mark_do_not_call
from crm.models import Call, CampaignContact, Lead
from crm.outbound.campaign_runs import enroll_due
from crm.outbound.campaigns import enroll, spec_of
from telephony.vapi.cli import CliError, place_call
from tests.fakes.vapi_rest import FakeVapi
from tests.telephony.conftest import Rig

ROOT = Path(__file__).resolve().parents[2]
ALWAYS = {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]}


async def test_a_lead_who_refused_calls_is_never_dialled_by_a_campaign(rig: Rig):
    refused = await rig.lead("+12125550501", timezone="America/New_York", consent_calls=False)
    revoked = await rig.lead("+12125550502", timezone="America/New_York")
    willing = await rig.lead("+12125550503", timezone="America/New_York", consent_calls=True)
    campaign = await rig.campaign(window=ALWAYS, audience={}, limits={"maxConcurrent": 5})
    await enroll_due(rig.db, rig.clock.now)
    async with rig.db.session() as session:
        # Enrolled by id through the API (which takes any lead), then consent withdrawn.
        row = await session.get(type(campaign), campaign.id)
        enroll(session, row, spec_of(row), await session.get(Lead, refused.id), rig.clock.now)
        (await session.get(Lead, revoked.id)).consent_calls = False
    await rig.tick(rig.dialer())
    assert [c.to for c in rig.twilio.calls] == [willing.phone]
    async with rig.db.session() as session:
        by_phone = {c.phone: c for c in await session.scalars(select(CampaignContact))}
    for lead in (refused, revoked):
        assert (by_phone[lead.phone].status, by_phone[lead.phone].reason) == (
            "skipped",
            "no_consent",
        ), "skipped for good, not retried"


@pytest.fixture
async def vapi():
    server = await FakeVapi(play_calls=False).start()
    yield server
    await server.stop()


def cli_settings(database: Database, vapi: FakeVapi, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database.url,
        data_dir=tmp_path,
        assistants_dir=ROOT / "assistants",
        vapi_api_key=vapi.api_key,
        vapi_base_url=vapi.url,
        vapi_phone_number_id="pn-1",
        public_url="https://agent.example",
        vapi_secret="s3cret",
    )


async def test_phoneagent_vapi_call_goes_through_the_dialers_checks(
    database: Database, vapi: FakeVapi, tmp_path: Path
):
    settings = cli_settings(database, vapi, tmp_path)
    open_ny = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
    night_ny = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Tuesday 22:00 in New York
    async with database.session() as session:
        session.add(Lead(phone="+12125550602", consent_calls=False))
        await mark_do_not_call(session, "+12125550601", reason="asked", source="test")
    for number, when, why in (
        ("+12125550601", open_ny, "do-not-call"),
        ("+12125550602", open_ny, "consentCalls: false"),
        ("+12125550603", night_ny, "calling window"),
    ):
        with pytest.raises(CliError, match=why):
            await place_call(settings, number, None, now=when)
    assert not vapi.calls, "nothing was dialled"
    async with database.session() as session:
        assert not list(await session.scalars(select(Call))), "no call rows for refused numbers"
    placed = await place_call(settings, "+12125550603", None, now=open_ny)
    assert [c["customer"]["number"] for c in vapi.calls.values()] == [placed["to"]]


async def test_a_lead_who_refused_recording_is_not_recorded_by_vapi_nor_told_it_is(
    database: Database, vapi: FakeVapi, tmp_path: Path
):
    settings = cli_settings(database, vapi, tmp_path)
    async with database.session() as session:
        session.add(Lead(phone="+12125550701", consent_recording=False))
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    await place_call(settings, "+12125550701", None, now=now)
    await place_call(settings, "+12125550702", None, now=now)
    refused, plain = (
        next(c for c in vapi.calls.values() if c["customer"]["number"] == n)
        for n in ("+12125550701", "+12125550702")
    )
    assert refused["assistantOverrides"]["artifactPlan"] == {"recordingEnabled": False}
    assert "artifactPlan" not in plain["assistantOverrides"]


def test_the_recording_notice_follows_the_first_message_only_when_recorded():
    assistant = Assistant.model_validate(
        {"name": "a", "firstMessage": "Hi!", "recordingNotice": "This call is recorded."}
    )
    assert announced(assistant.first_message, assistant.recording_notice) == (
        "Hi! This call is recorded."
    )
    assert announced(assistant.first_message, "") == "Hi!"
