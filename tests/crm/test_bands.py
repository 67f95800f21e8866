"""Seed 003's bands carried out by rule files keyed on the band: HOT, WARM and COLD."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.tools import ToolContext, execute, resolve_tools
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.lead_changes import set_score
from crm.leads import LeadStore
from crm.models import AutomationRun, Call, Campaign, CampaignContact, Lead, Task, utcnow
from crm.outbound.campaign_runs import advance_schedules, enroll_due
from crm.outbound.campaign_spec import load_campaign_files
from crm.outbound.campaigns import sync_campaign_files
from crm.policy import Policy
from crm.rules.loader import RuleBook, RuleFileError
from crm.stages import Stages
from crm.webhooks.outbox import WebhookSettings
from tests.agent.test_tools import LiveCall, assistant

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def policy() -> Policy:
    return Policy.load(
        stages_file=None,
        scoring_file=ROOT / "scoring" / "hot-warm-cold.json",
        rules_dir=ROOT / "rules" / "hot-warm-cold",
        webhooks=WebhookSettings(secret="s"),
    )


async def scored(database: Database, policy: Policy, phone: str, score: int) -> Lead:
    """A lead whose score is set (as through the API), its rules run."""
    lead = await LeadStore(database).get_or_create(phone, source="test")
    async with database.session() as session:
        row = await session.get(Lead, lead.id)
        await set_score(session, policy, row, score, actor="test")
    return row


async def tasks_of(database: Database, lead: Lead) -> list[Task]:
    async with database.session() as session:
        return list(await session.scalars(select(Task).where(Task.lead_id == lead.id)))


async def test_a_hot_lead_after_the_call_gets_a_salesperson_calling_back_now(
    database: Database, policy: Policy
):
    lead = await scored(database, policy, "+12125550801", 90)
    [task] = await tasks_of(database, lead)
    assert (task.kind, task.assigned_to, task.status) == ("task", "sales", "open")
    assert abs(task.due_at - utcnow()) < timedelta(minutes=1), "due now"
    assert "back now" in task.title


async def test_a_warm_lead_gets_a_callback_in_24_hours(database: Database, policy: Policy):
    lead = await scored(database, policy, "+12125550802", 60)
    [task] = await tasks_of(database, lead)
    assert task.kind == "callback" and task.status == "open"
    assert abs(task.due_at - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)


async def test_a_cold_lead_joins_the_nurturing_campaign(database: Database, policy: Policy):
    await sync_campaign_files(database, load_campaign_files(ROOT / "campaigns" / "examples"))
    lead = await scored(database, policy, "+12125550803", 20)
    async with database.session() as session:
        contact = await session.scalar(
            select(CampaignContact).where(CampaignContact.lead_id == lead.id)
        )
        campaign = await session.get(Campaign, contact.campaign_id)
    assert campaign.name == "Nurturing" and contact.status == "pending"
    assert contact.next_attempt_at - utcnow() > timedelta(hours=71)
    assert not await tasks_of(database, lead)


async def test_a_lead_turning_hot_during_the_call_is_transferred_live(
    database: Database, policy: Policy
):
    lead = await scored(database, policy, "+12125550804", 75)  # warm: a callback in 24 h
    calls = CallStore(database)
    call = await calls.open(
        NewCall(
            provider="twilio", provider_call_id="CA-hot", from_number=lead.phone, lead_id=lead.id
        )
    )
    config, control = assistant(), LiveCall()
    context = ToolContext(
        db=database,
        calls=calls,
        assistant=config,
        tools=resolve_tools(config).tools,
        call_id=call.id,
        lead_id=lead.id,
        phone=lead.phone,
        control=control,
        policy=policy,
    )
    result = await execute(
        "update_lead", {"budget": "80 dollars a month", "timeline": "this week"}, context
    )
    assert result.ok, result.error
    assert [d.number for d in control.transfers] == ["+14155550199"], "transferred in the call"
    async with database.session() as session:
        row = await session.get(Lead, lead.id)
        assert (row.score, row.band) == (85, "hot")
        assert (await session.get(Call, call.id)).transfer_target == "+14155550199"
    assert [t.kind for t in await tasks_of(database, lead)] == ["callback"], (
        "no callback-now task: the caller reached a person"
    )


def test_a_band_rule_must_name_a_band_of_the_scoring_file(tmp_path: Path):
    (tmp_path / "hot.json").write_text(
        '{"trigger": "band_changed", "band": "scorching", "actions": [{"type": "add_tag", '
        '"tag": "x"}]}'
    )
    with pytest.raises(RuleFileError, match="unknown band 'scorching'"):
        RuleBook.load(tmp_path, Stages(), ("cold", "warm", "hot"))


async def test_a_rule_fed_campaign_stays_open_and_a_closed_one_is_not_fed(
    database: Database, policy: Policy
):
    await sync_campaign_files(database, load_campaign_files(ROOT / "campaigns" / "examples"))
    await enroll_due(database, utcnow())  # its (empty) audience is enrolled
    await advance_schedules(database, utcnow())
    async with database.session() as session:
        nurturing = await session.scalar(select(Campaign).where(Campaign.name == "Nurturing"))
        assert nurturing.status == "active", "nothing to dial yet, but rules will add leads"
        nurturing.status = "completed"
    lead = await scored(database, policy, "+12125550805", 20)
    async with database.session() as session:
        [run] = list(await session.scalars(select(AutomationRun)))
    assert run.status == "error" and "Nurturing is completed" in run.error
    assert not await tasks_of(database, lead)
