"""Seeds 000, 001 and 002/004 whole, on SQLite and PostgreSQL: first event to last effect.

Each test asserts every link of its flow, so cutting any link fails it (the links are
listed in each test's docstring, in order).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from crm.outbound.calling_windows import CallingWindow
from tests.e2e.flow_rig import (
    ALWAYS,
    HUMAN,
    NOTICE,
    Flow,
    Setup,
    answered_by,
    say,
    start_flow,
    until,
)
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.slow

INTERESTED = {
    "summary": "Dana wants home fiber and asked the monthly price; a salesperson should follow up.",
    "sentiment_score": 0.8,
    "intent": "buy",
    "outcome": "interested",
    "objections": [],
    "competitors": [],
    "keywords": ["fiber", "price"],
    "bant": {"budget": None, "authority": None, "need": "home fiber internet", "timeline": None},
    "signals": {"price_questions": 1, "information_requests": 1, "positive_answers": 1},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def flow(request, fake_llm: FakeOpenAI, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"flows-{request.param}")
    async for running in start_flow(tmp, request.param, fake_llm, Setup()):
        yield running


@pytest.fixture
def clean(flow: Flow, llm: FakeOpenAI) -> Flow:
    flow.answers.clear()
    flow.twilio.calls.clear()
    flow.twilio.updates.clear()
    return flow


WINDOW = CallingWindow(
    start=datetime.strptime(ALWAYS["start"], "%H:%M").time(),
    end=datetime.strptime(ALWAYS["end"], "%H:%M").time(),
    days=frozenset(ALWAYS["days"]),
)


def by_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_seed_000_cold_campaign_from_csv_to_a_signed_webhook(clean: Flow):
    """CSV import → campaign (window, limits) → Twilio REST dial → the callee speaks on the
    answer URL → a tool → hang-up → analysis → score and band → stage → rule → signed webhook."""
    flow, phone = clean, "+12125550900"
    llm = flow.llm
    llm.script += [
        Reply("", tool_calls=[ToolCall("update_lead", {"need": "home fiber internet"})]),
        Reply("It is forty five dollars a month. A colleague will call you."),
    ]
    line = "Yes, I am interested in fiber at home. How much does it cost per month?"
    flow.answers.append(lambda call, twiml: answered_by(flow, call, twiml, line, INTERESTED))
    spec = {
        "name": "Seed 000 cold calling",
        "type": "cold_calling",
        "assistant": "flows",
        "window": ALWAYS,
        "limits": {"maxAttempts": 2, "maxConcurrent": 1, "maxCallsPerDay": 50},
    }
    campaign = await flow.api("POST", "/api/campaigns", spec)
    enrolled = await flow.api(
        "POST",
        f"/api/campaigns/{campaign['id']}/contacts",
        data=f"phone,name,email\n{phone},Dana Cruz,dana@example.com\n",
        headers={"Content-Type": "text/csv"},
    )
    # 1. CSV import: the row became a lead, enrolled in the campaign.
    assert enrolled["enrolled"] == 1 and enrolled["import"]["created"] == 1, enrolled
    await flow.api("POST", f"/api/campaigns/{campaign['id']}/start")

    async def completed():
        contacts = await flow.api("GET", f"/api/campaigns/{campaign['id']}/contacts")
        return contacts["data"][0] if contacts["data"][0]["status"] == "completed" else None

    contact = await until(completed, timeout=90)
    # 2. Dialled through Twilio's REST API, from our number, answered by our answer URL.
    [placed] = flow.twilio.calls
    assert (placed.to, placed.from_) == (phone, "+15555550000")
    assert placed.params["Url"][0].endswith(f"/twilio/voice?callId={contact['lastCallId']}")
    call = await flow.analysed(contact["lastCallId"])
    # 3. Inside the campaign's window, as its campaign's call, within its limits.
    assert call["campaignId"] == campaign["id"] and call["direction"] == "outbound"
    assert WINDOW.is_open(by_time(call["createdAt"]), tuple(contact["zones"]))
    assert contact["attempts"] == 1 and len(flow.twilio.calls) == 1
    # 4. The callee spoke: what they said reached the transcript and the LLM.
    heard = " ".join(t["text"] for t in call["transcript"] if t["role"] == "user").lower()
    assert "fiber" in heard or "month" in heard or "cost" in heard, heard
    said = [w for w in ("fiber", "month", "cost") if w in heard]
    assert any(w in str(r["messages"]).lower() for r in llm.requests for w in said), heard
    assistant_lines = [t["text"] for t in call["transcript"] if t["role"] == "assistant"]
    assert assistant_lines[0].endswith(NOTICE), "a recorded call states it after the greeting"
    assert call["recording"] and call["recording"]["path"], "and it is recorded"
    # 5. The assistant used a tool, and its effect is on the lead.
    [tool] = call["toolCalls"]
    assert tool["name"] == "update_lead" and tool["ok"], tool
    # 6. Hang-up: the call ended, answered by a person.
    assert call["endedAt"] and call["answeredAt"] and call["status"] == "completed", call
    # 7. Analysis.
    assert call["analysisStatus"] == "done" and call["outcome"] == "interested"
    assert call["summary"] == INTERESTED["summary"]
    lead = await flow.lead(phone)
    # 8. Score and band, from the analysis (and the rule's +15), the lead's and the call's.
    explanation = lead["scoreExplanation"]
    assert explanation["adjustments"]["outcome.interested"] == 10
    assert explanation["adjustments"]["rule:interested-follow-up"] == 15
    assert call["leadScore"] == lead["score"] and lead["band"] == explanation["band"]
    # 9. Stage advance, by this call.
    assert lead["stage"] == "qualified" and lead["need"] == "home fiber internet"
    assert any(c["callId"] == call["id"] for c in lead["stageHistory"])
    # 10. The automation rule fired.
    runs = {r["ruleId"]: r for r in call["automationRuns"]}
    assert runs["interested-follow-up"]["status"] == "ok", runs
    assert any(t["kind"] == "callback" for t in lead["openTasks"])
    # 11. Its webhook reached a real HTTP server, signed.
    received = await flow.webhook("lead.interested")
    assert received.json["message"]["lead"]["id"] == lead["id"]


async def test_seed_001_inbound_caller_qualified_and_handed_to_a_person(clean: Flow):
    """Inbound call → lookup → BANT stored on the lead → cold transfer to a person →
    outcome transferred → stage and score reflect it → the person finds the summary."""
    flow, phone = clean, "+13105550901"
    await flow.api(
        "POST",
        "/api/leads",
        {"phone": phone, "name": "Luis Ortega", "source": "web", "consentRecording": False},
    )
    bant = {
        "budget": "50 dollars a month",
        "authority": "decides himself",
        "need": "fiber at home",
        "timeline": "this month",
    }
    summary = "Luis wants fiber at home this month, budget 50 dollars, decides himself."
    flow.llm.script += [
        Reply("", tool_calls=[ToolCall("lookup_lead", {}), ToolCall("update_lead", bant)]),
        Reply(
            "",
            tool_calls=[
                ToolCall("transfer_to_human", {"reason": "ready to buy", "summary": summary})
            ],
        ),
    ]
    async with flow.caller(phone) as call:
        flow.analysis_for(call.call_id, INTERESTED | {"summary": summary, "bant": bant})
        await call.wait_for_bot()
        await call.speak(say("I want fiber at home this month for fifty dollars and I decide"))
        await until(lambda: _updates(flow), timeout=60)
        # Twilio runs the <Dial> and ends the stream: leaving the block sends that stop.
    body = await flow.analysed(call.call_id)
    tools = {t["name"]: t for t in body["toolCalls"]}
    # 1. Lookup: the assistant found the caller's lead (by name).
    assert tools["lookup_lead"]["ok"] and "Luis Ortega" in str(tools["lookup_lead"]["result"])
    lead = await flow.lead(phone)
    # 2. BANT answers stored on the lead.
    assert {k: lead[k] for k in bant} == bant
    # 3. Transfer to a person (cold: Twilio <Dial> to the salesperson's number).
    [update] = flow.twilio.updates
    assert update.call_sid == call.call_sid and f"<Number>{HUMAN}</Number>" in update.twiml
    assert body["transferTarget"] == HUMAN and body["endReason"] == "transferred"
    # 4. The call's outcome is transferred.
    assert body["outcome"] == "transferred"
    # 5. Stage and score reflect it.
    assert lead["stage"] == "qualified"
    adjustments = lead["scoreExplanation"]["adjustments"]
    assert adjustments["outcome.transferred"] == 5 and adjustments["bant.budget"] == 5
    assert lead["score"] == body["leadScore"]
    # 6. The person sees the summary: on the lead (the transfer note) and on the call.
    # (Luis refused recording: his call is not recorded, and not announced as recorded.)
    assert body["recording"] is None
    greeting = next(t["text"] for t in body["transcript"] if t["role"] == "assistant")
    assert NOTICE not in greeting
    assert any(summary in note["body"] for note in lead["notes"]), lead["notes"]
    assert body["summary"] == summary


async def _updates(flow: Flow):
    return flow.twilio.updates


async def test_seeds_002_004_a_new_web_lead_is_called_by_the_speed_to_lead_campaign(clean: Flow):
    """Lead created through the API → enters the speed-to-lead campaign (audience) → called
    within the campaign's minutes, inside its window → the call advances its stage."""
    flow = clean
    spec = {
        "name": "Speed to lead",
        "type": "cold_calling",
        "assistant": "flows",
        "status": "active",
        "window": ALWAYS,
        "audience": {"stages": ["new"], "source": "web-form"},
        "triggers": {"newLeadWithinMinutes": 5},
    }
    campaign = await flow.api("POST", "/api/campaigns", spec)
    flow.llm.script.append(Reply("Great, I can set that up. A colleague will call you."))
    line = "Yes, I just filled in your form. I want the fiber plan."
    flow.answers.append(lambda call, twiml: answered_by(flow, call, twiml, line, INTERESTED))
    other = await flow.api("POST", "/api/leads", {"phone": "+12125550903", "source": "referral"})
    web = await flow.api(
        "POST", "/api/leads", {"phone": "+12125550902", "name": "Ana", "source": "web-form"}
    )

    async def called():
        contacts = await flow.api("GET", f"/api/campaigns/{campaign['id']}/contacts")
        done = [c for c in contacts["data"] if c["status"] == "completed"]
        return done[0] if done else None

    contact = await until(called, timeout=90)
    # 1. The lead created through the API entered the campaign; the referral did not.
    assert contact["leadId"] == web["id"]
    contacts = await flow.api("GET", f"/api/campaigns/{campaign['id']}/contacts")
    assert [c["leadId"] for c in contacts["data"]] == [web["id"]], other
    assert [c.to for c in flow.twilio.calls] == [web["phone"]]
    call = await flow.analysed(contact["lastCallId"])
    # 2. Called within the campaign's minutes of the lead's creation, inside its window.
    waited = by_time(call["createdAt"]) - by_time(web["createdAt"])
    assert waited.total_seconds() < 5 * 60, waited
    assert WINDOW.is_open(by_time(call["createdAt"]), tuple(contact["zones"]))
    # 3. The call advanced the lead's stage.
    lead = await flow.lead(web["phone"])
    assert lead["stage"] == "qualified"
    moves = [(c["fromStage"], c["callId"]) for c in lead["stageHistory"]]
    assert moves[0] == ("new", call["id"]), moves
