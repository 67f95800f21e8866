"""Seed 003 whole, on SQLite and PostgreSQL: HOT, WARM and COLD leads, each band's action done.

The server runs ``scoring/hot-warm-cold.json`` with the rule files keyed on its bands
(``rules/hot-warm-cold``) and the Nurturing campaign COLD leads join.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.flow_rig import HUMAN, Flow, Setup, say, start_flow, until
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.slow

STRONG = {"price_questions": 2, "information_requests": 3, "positive_answers": 3}
ANALYSIS = {
    "summary": "The caller asked about the fiber plan.",
    "sentiment_score": 0.7,
    "intent": "buy",
    "outcome": "interested",
    "objections": [],
    "competitors": [],
    "keywords": ["fiber"],
    "bant": {"budget": None, "authority": None, "need": None, "timeline": None},
    "signals": STRONG,
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def flow(request, fake_llm: FakeOpenAI, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"bands-{request.param}")
    setup = Setup(
        scoring="scoring/hot-warm-cold.json",
        rules="rules/hot-warm-cold",
        campaigns=("nurturing.json",),
    )
    async for running in start_flow(tmp, request.param, fake_llm, setup):
        yield running


@pytest.fixture
def clean(flow: Flow, llm: FakeOpenAI) -> Flow:
    flow.twilio.updates.clear()
    return flow


def due_in(task: dict) -> timedelta:
    return datetime.fromisoformat(task["dueAt"]) - datetime.now(UTC)


async def one_call(flow: Flow, phone: str, line: str, analysis: dict, reply: Reply) -> dict:
    """An inbound call: the caller says ``line``, the assistant answers, the caller hangs up."""
    flow.llm.script.append(reply)
    async with flow.caller(phone) as call:
        flow.analysis_for(call.call_id, analysis)
        await call.wait_for_bot()
        await call.say(say(line), line)
    return await flow.analysed(call.call_id)


async def test_seed_003_a_lead_turning_hot_in_the_call_goes_to_a_salesperson_live(clean: Flow):
    """Warm lead calls → BANT answered in the call → HOT → live transfer while on the line."""
    flow, phone = clean, "+13055550910"
    lead = await flow.api("POST", "/api/leads", {"phone": phone, "name": "Rosa"})
    await flow.api("PATCH", f"/api/leads/{lead['id']}", {"score": 75})
    before = await flow.lead(phone)
    assert before["band"] == "warm" and [t["kind"] for t in before["openTasks"]] == ["callback"]
    bant = {
        "budget": "60 dollars",
        "authority": "she decides",
        "need": "fiber for home office",
        "timeline": "this week",
    }
    flow.llm.script.append(Reply("", tool_calls=[ToolCall("update_lead", bant)]))
    async with flow.caller(phone) as call:
        flow.analysis_for(call.call_id, ANALYSIS | {"bant": bant})
        await call.wait_for_bot()
        await call.speak(say("I need fiber for my home office this week and I can pay sixty"))

        async def transferred():
            return flow.twilio.updates

        await until(transferred, timeout=60)
    [update] = flow.twilio.updates
    assert update.call_sid == call.call_sid and f"<Number>{HUMAN}</Number>" in update.twiml
    body = await flow.analysed(call.call_id)
    assert body["transferTarget"] == HUMAN and body["endReason"] == "transferred"
    runs = {r["ruleId"]: r for r in body["automationRuns"]}
    assert runs["hot"]["status"] == "ok" and runs["hot"]["trigger"] == "band_changed", runs
    assert "live" in runs["hot"]["result"]["actions"][0]["transfer"]
    after = await flow.lead(phone)
    assert after["band"] == "hot" and after["score"] >= 80
    assert not any(t["kind"] == "task" for t in after["openTasks"]), "no call-back-now task"
    received = await flow.webhook("lead.hot")
    assert received.json["message"]["lead"]["id"] == lead["id"]


async def test_seed_003_a_warm_lead_gets_a_callback_in_24_hours(clean: Flow):
    """A caller asks about prices and speeds → WARM → a callback task due in 24 hours."""
    flow, phone = clean, "+13055550911"
    body = await one_call(
        flow,
        phone,
        "How much is the fiber plan and how fast is it?",
        ANALYSIS,
        Reply("It is forty five dollars a month for three hundred megabits."),
    )
    lead = await flow.lead(phone)
    assert lead["band"] == "warm" and 50 <= lead["score"] <= 79, lead["scoreExplanation"]
    assert {r["ruleId"]: r["status"] for r in body["automationRuns"]}["warm"] == "ok"
    [callback] = [t for t in lead["openTasks"] if t["kind"] == "callback"]
    assert abs(due_in(callback) - timedelta(hours=24)) < timedelta(minutes=5)


async def test_seed_003_a_cold_lead_joins_the_nurturing_campaign(clean: Flow):
    """A caller is not interested → COLD → enrolled in the Nurturing campaign, called later."""
    flow, phone = clean, "+13055550912"
    cold = ANALYSIS | {
        "outcome": "not_interested",
        "intent": "other",
        "sentiment_score": -0.3,
        "signals": {"price_questions": 0, "information_requests": 0, "positive_answers": 0},
    }
    body = await one_call(
        flow, phone, "No thanks, I am not interested.", cold, Reply("Alright, have a nice day.")
    )
    lead = await flow.lead(phone)
    assert lead["band"] == "cold", lead["scoreExplanation"]
    assert {r["ruleId"]: r["status"] for r in body["automationRuns"]}["cold"] == "ok"
    campaigns = (await flow.api("GET", "/api/campaigns"))["data"]
    [nurturing] = [c for c in campaigns if c["name"] == "Nurturing"]
    assert nurturing["status"] == "active"
    contacts = (await flow.api("GET", f"/api/campaigns/{nurturing['id']}/contacts"))["data"]
    [contact] = [c for c in contacts if c["leadId"] == lead["id"]]
    assert contact["status"] == "pending"
    assert datetime.fromisoformat(contact["nextAttemptAt"]) - datetime.now(UTC) > timedelta(
        hours=71
    )
