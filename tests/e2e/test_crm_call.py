"""A real call through the real server, then its analysis, score, rules and webhooks (API)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import (
    ROOT,
    TWILIO_AUTH_TOKEN,
    ServerProcess,
    start_scripted_server,
    start_server,
)
from tests.fakes.openai_server import FakeOpenAI, JsonReply, Reply
from tests.fakes.signatures import signature_problem
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow

SECRET = "e2e-webhook-secret"
QUESTION = "Hi, how much does your fiber internet plan cost per month?"
ANSWER = "It is forty five dollars a month."
ANALYSIS = {
    "summary": (
        "The caller asked the monthly price of the fiber plan and wants an installation visit."
    ),
    "sentiment_score": 0.6,
    "intent": "buy",
    "outcome": "interested",
    "objections": [],
    "competitors": [],
    "keywords": ["fiber", "price", "installation"],
    "bant": {
        "budget": None,
        "authority": None,
        "need": "home fiber internet",
        "timeline": "this week",
    },
    "signals": {"price_questions": 1, "information_requests": 1, "positive_answers": 1},
}


@pytest.fixture(scope="module")
async def receiver():
    server = await WebhookReceiver(fail_first=2, secret=SECRET).start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def crm_server(
    fake_llm: FakeOpenAI, receiver: WebhookReceiver, tmp_path_factory
) -> ServerProcess:
    tmp: Path = tmp_path_factory.mktemp("crm-server")
    process = await start_scripted_server(
        tmp,
        fake_llm,
        database_url=f"sqlite:///{tmp / 'crm.db'}",
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        ASSISTANTS_DIR=str(ROOT / "assistants"),
        RULES_DIR=str(ROOT / "rules"),
        WEBHOOK_URLS=f"{receiver.url}/vapi",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_RETRY_BASE_SECONDS="0.2",
    )
    yield process
    process.stop()


async def one_question(server: ServerProcess, llm: FakeOpenAI, analysis: list[JsonReply]) -> str:
    """Place a call that asks one question; the analysis replies are scripted for this call only."""
    llm.script.append(Reply(ANSWER))
    async with CallSimulator(server.url, auth_token=TWILIO_AUTH_TOKEN) as call:
        for reply in analysis:
            reply.match = call.call_id
        llm.json_script.extend(analysis)
        await call.wait_for_bot()
        turn = await call.say(speech_ulaw(QUESTION), QUESTION)
        assert turn.voice_to_voice_ms is not None
    return call.call_id


async def analysed(server: ServerProcess, call_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = await server.call(call_id)
        if body["analysisStatus"] in ("done", "fallback", "failed") or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


async def test_after_a_call_the_api_shows_analysis_score_and_rule_runs(
    crm_server: ServerProcess, llm: FakeOpenAI, receiver: WebhookReceiver
):
    call_id = await one_question(crm_server, llm, [JsonReply(ANALYSIS)])
    body = await analysed(crm_server, call_id)
    assert body["analysisStatus"] == "done", body
    assert body["summary"] == ANALYSIS["summary"]
    assert (body["sentimentScore"], body["sentimentLabel"], body["intent"], body["outcome"]) == (
        0.6,
        "positive",
        "buy",
        "interested",
    )
    analysis = body["analysis"]
    assert analysis["source"] == "llm" and analysis["bant"]["need"] == "home fiber internet"
    score = analysis["score"]
    assert score["value"] == body["leadScore"] and score["band"]
    assert set(score["explanation"]["components"]) == {
        "interaction",
        "price_questions",
        "information_requests",
        "talk_time",
        "positive_answers",
    }
    assert score["explanation"]["adjustments"]["outcome.interested"] == 10
    assert score["explanation"]["adjustments"]["rule:interested-follow-up"] == 15
    runs = {run["ruleId"]: run for run in body["automationRuns"]}
    assert (
        runs["interested-follow-up"]["status"] == "ok"
        and runs["positive-sentiment"]["status"] == "ok"
    )
    user_lines = [line for line in body["transcript"] if line["role"] == "user"]
    assert user_lines and all(line["sentiment"] is not None for line in body["transcript"])
    request = next(r for r in llm.json_requests if call_id in r["messages"][1]["content"])
    assert (
        "price" in request["messages"][1]["content"].lower()
        or "cost" in request["messages"][1]["content"].lower()
    )

    status, lead = await crm_server.get_json(f"/api/leads/{body['leadId']}")
    assert status == 200 and lead["stage"] == "qualified" and lead["need"] == "home fiber internet"
    assert any(t["kind"] == "callback" for t in lead["openTasks"])

    # The end-of-call report reaches the receiver, signed, although it refused the first two tries.
    deadline = time.monotonic() + 20
    while not any(r.json["message"]["type"] == "end-of-call-report" for r in receiver.accepted):
        assert time.monotonic() < deadline, [r.answered for r in receiver.received]
        await asyncio.sleep(0.1)
    report = next(r for r in receiver.accepted if r.json["message"]["type"] == "end-of-call-report")
    assert signature_problem(SECRET, report.headers, report.body) is None
    message = report.json["message"]
    assert (
        message["call"]["id"] == call_id and message["analysis"]["summary"] == ANALYSIS["summary"]
    )
    assert (
        message["artifact"]["transcript"].startswith("AI: ")
        and message["endedReason"] == "customer-ended-call"
    )
    while True:  # every event of the call ends up delivered; the refused ones on a retry
        status, deliveries = await crm_server.get_json(f"/api/webhooks/deliveries?callId={call_id}")
        if (
            all(d["status"] == "delivered" for d in deliveries["data"])
            or time.monotonic() > deadline
        ):
            break
        await asyncio.sleep(0.2)
    assert {d["event"] for d in deliveries["data"]} >= {
        "end-of-call-report",
        "call.analyzed",
        "lead.stage_changed",
    }
    assert all(d["status"] == "delivered" for d in deliveries["data"]), deliveries
    histories = [[h["status"] for h in d["history"]] for d in deliveries["data"]]
    assert sorted(histories).count([500, 200]) == 2 and histories.count([200]) == len(histories) - 2


async def test_when_the_llm_fails_the_fallback_analyses_the_call(
    crm_server: ServerProcess, llm: FakeOpenAI
):
    call_id = await one_question(crm_server, llm, [JsonReply(status=500), JsonReply(status=500)])
    body = await analysed(crm_server, call_id)
    assert body["analysisStatus"] == "fallback", body
    analysis = body["analysis"]
    assert analysis["source"] == "fallback" and "HTTP 500" in analysis["note"]
    assert body["summary"] and body["outcome"] and body["sentimentLabel"] and body["intent"]
    assert analysis["score"]["band"] and analysis["score"]["explanation"]["components"]
    assert body["automationRuns"], "rules run on fallback analyses too"


async def test_a_broken_rule_file_stops_the_server_at_start(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "typo.json").write_text(
        '{"trigger": "outcome_interested", "actions": [{"type": "add_tag"}]}'
    )
    with pytest.raises(RuntimeError) as error:
        await start_server(
            tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", RULES_DIR=str(rules)
        )
    assert f"{rules / 'typo.json'}: $.actions[0].tag: Field required" in str(error.value)


async def test_a_configured_folder_that_does_not_exist_stops_the_server_at_start(tmp_path: Path):
    with pytest.raises(RuntimeError) as error:
        await start_server(tmp_path, RULES_DIR="rulez")
    assert f"Cannot start: RULES_DIR={tmp_path / 'rulez'}: no such folder" in str(error.value)
