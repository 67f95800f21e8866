"""The post-call job (SQLite, PostgreSQL): analysis, score, stage, rules, webhooks; idempotent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from crm.analysis.llm import LLMSettings
from crm.calls import CallStore
from crm.db import Database
from crm.models import (
    AutomationRun,
    Call,
    Lead,
    StageChange,
    Task,
    Utterance,
    WebhookDelivery,
    utcnow,
)
from crm.service import CrmService, CrmSettings
from crm.webhooks.outbox import WebhookSettings
from tests.crm.conftest import SALES_CALL, record_call
from tests.fakes.openai_server import FakeOpenAI, JsonReply

ROOT = Path(__file__).resolve().parents[2]
LLM_ANALYSIS = {
    "summary": (
        "Asked the price of 300 Mb fiber and coverage in Los Olivos; wants installation next week."
    ),
    "sentiment_score": 0.85,
    "utterance_sentiments": {"2": 0.2, "4": 0.9, "6": 0.8},
    "intent": "buy",
    "outcome": "interested",
    "objections": [],
    "competitors": ["Movistar"],
    "keywords": ["fiber", "coverage", "installation"],
    "bant": {
        "budget": "50 dollars a month",
        "authority": None,
        "need": "home internet",
        "timeline": "next week",
    },
    "signals": {"price_questions": 1, "information_requests": 1, "positive_answers": 2},
}


def service(database: Database, llm: FakeOpenAI | None = None, **kwargs) -> CrmService:
    plans = kwargs.pop("plans", None)
    settings = CrmSettings(
        rules_dir=kwargs.pop("rules_dir", ROOT / "rules"),
        webhooks=WebhookSettings(urls=kwargs.pop("urls", ("http://127.0.0.1:9/hook",)), secret="s"),
        llm=LLMSettings(base_url=llm.url, model="m", timeout=5) if llm else None,
        **kwargs,
    )
    return CrmService(database, settings, plans)


async def scalar_count(database: Database, model, *where) -> int:
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_llm_analysis_scores_moves_and_runs_rules(database: Database, llm: FakeOpenAI):
    call = await record_call(database, SALES_CALL, sid="CA-llm")
    llm.json_script.append(JsonReply(LLM_ANALYSIS, match=call.id))
    crm = service(database, llm)
    assert await crm.queue.process_due() == 1
    async with database.session() as session:
        row = await session.get(Call, call.id)
        lead = await session.get(Lead, row.lead_id)
        lines = list(
            await session.scalars(
                select(Utterance).where(Utterance.call_id == call.id).order_by(Utterance.seq)
            )
        )
        runs = {
            r.rule_id: r
            for r in await session.scalars(
                select(AutomationRun).where(AutomationRun.call_id == call.id)
            )
        }
        stages = [
            (c.from_stage, c.to_stage, c.actor)
            for c in await session.scalars(select(StageChange).order_by(StageChange.id))
        ]
    assert (row.analysis_status, row.outcome, row.intent, row.sentiment_label) == (
        "done",
        "interested",
        "buy",
        "positive",
    )
    assert row.summary == LLM_ANALYSIS["summary"] and row.analysis["competitors"] == ["Movistar"]
    assert [line.sentiment for line in lines][1::2] == [0.2, 0.9, 0.8]
    assert (lead.budget, lead.need, lead.timeline, lead.authority) == (
        "50 dollars a month",
        "home internet",
        "next week",
        None,
    )
    assert lead.last_contacted_at == row.ended_at and lead.language == "en"
    # Score: components and BANT and outcome, then the interested rule's +15.
    explanation = lead.score_explanation
    assert explanation["adjustments"] == {
        "bant.budget": 5.0,
        "bant.need": 5.0,
        "bant.timeline": 5.0,
        "outcome.interested": 10.0,
        "rule:interested-follow-up": 15,
    }
    assert lead.score == explanation["total"] == row.lead_score and lead.band == explanation["band"]
    assert row.analysis["score"] == {
        "value": lead.score,
        "band": lead.band,
        "explanation": explanation,
        "rescored": True,
    }
    assert stages == [("new", "qualified", "auto-advance")], (
        "the rule's set_stage found it already there"
    )
    assert runs["interested-follow-up"].status == "ok" and runs["positive-sentiment"].status == "ok"
    assert runs["hot-lead"].status == "skipped", "score not under 60"
    assert set(lead.tags) == {"positive"}
    assert (lead.score, lead.band) == (83, "very_hot")
    assert runs["very-hot-alert"].status == "ok", "the rule's +15 crossed 81"
    async with database.session() as session:
        events = sorted(d.event for d in await session.scalars(select(WebhookDelivery)))
    assert events == [
        "call.analyzed",
        "end-of-call-report",
        "lead.interested",
        "lead.stage_changed",
        "lead.very_hot",
    ]
    assert await scalar_count(database, Task, Task.kind == "callback") == 1

    # Twice changes nothing: nothing is due, and the job itself refuses a call already analysed.
    before = (
        await scalar_count(database, AutomationRun),
        await scalar_count(database, Task),
        await scalar_count(database, WebhookDelivery),
    )
    assert await crm.queue.process_due() == 0
    assert await crm.job.run(call.id) == "skipped"
    await CallStore(database).finalize(call.id, end_reason="caller-hangup")
    assert await crm.queue.process_due() == 0
    assert before == (
        await scalar_count(database, AutomationRun),
        await scalar_count(database, Task),
        await scalar_count(database, WebhookDelivery),
    )
    assert len(llm.json_requests) == 1
    await crm.stop()


async def test_fallback_when_the_llm_answers_garbage(database: Database, llm: FakeOpenAI):
    call = await record_call(database, SALES_CALL, sid="CA-fb")
    llm.json_script.extend([JsonReply("I think the caller was happy!", match=call.id)] * 2)
    crm = service(database, llm)
    await crm.queue.process_due()
    async with database.session() as session:
        row = await session.get(Call, call.id)
    assert (
        row.analysis_status == "fallback"
        and row.outcome == "interested"
        and row.sentiment_label == "positive"
    )
    assert row.analysis["source"] == "fallback" and "holds no JSON object" in row.analysis["note"]
    assert (
        row.lead_score is not None
        and row.analysis["score"]["explanation"]["components"]["price_questions"]["points"] == 12.5
    )
    await crm.stop()


async def test_unanswered_calls_get_outcomes_and_retries_without_an_llm(
    database: Database, llm: FakeOpenAI
):
    crm = service(database, llm)
    for i in range(3):
        await record_call(database, [], sid=f"CA-na-{i}", answered=False, status="no-answer")
        assert await crm.queue.process_due() == 1
        async with database.session() as session:
            for task in await session.scalars(select(Task).where(Task.status == "open")):
                task.status = "done"  # the dialer made the retry, which went unanswered again
    async with database.session() as session:
        calls = list(await session.scalars(select(Call).order_by(Call.created_at)))
        lead = await session.get(Lead, calls[0].lead_id)
        runs = [
            (r.rule_id, r.status)
            for r in await session.scalars(select(AutomationRun).order_by(AutomationRun.id))
        ]
        retries = await session.scalar(
            select(func.count()).select_from(Task).where(Task.kind == "callback")
        )
    assert [c.outcome for c in calls] == ["no_answer"] * 3 and {
        c.analysis_status for c in calls
    } == {"done"}
    assert calls[0].summary == "Nobody answered the inbound call (no-answer)."
    assert (lead.score, lead.stage, lead.last_contacted_at) == (0, "new", None), (
        "no conversation: no rescoring"
    )
    assert runs == [("no-answer-retry", "ok"), ("no-answer-three-times", "skipped")] * 2 + [
        ("no-answer-retry", "skipped"),
        ("no-answer-three-times", "ok"),
    ]
    assert retries == 2 and "unreachable" in lead.tags
    assert not llm.json_requests
    await crm.stop()


async def test_a_pending_call_is_picked_up_at_start_after_a_crash(
    database: Database, llm: FakeOpenAI
):
    ended = await record_call(database, SALES_CALL, sid="CA-left")
    claimed = await record_call(database, SALES_CALL, sid="CA-claimed", phone="+14155550177")
    async with database.session() as session:  # a process claimed this one, then died
        row = await session.get(Call, claimed.id)
        row.analysis_attempts, row.analysis_next_at = 1, utcnow() - timedelta(seconds=1)
    crm = service(database, llm, analysis_interval=0.2)
    await crm.start()
    try:
        for _ in range(100):
            async with database.session() as session:
                statuses = [
                    (await session.get(Call, i)).analysis_status for i in (ended.id, claimed.id)
                ]
            if statuses == ["done", "done"]:
                break
            await asyncio.sleep(0.1)
    finally:
        await crm.stop()
    assert statuses == ["done", "done"]


async def test_a_failing_job_is_retried_with_backoff_then_marked_failed(database: Database):
    failures = {"left": 1}

    def plans(name):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("assistant store unavailable")

    call = await record_call(database, SALES_CALL, sid="CA-retry")
    crm = service(database, plans=plans, analysis_retry_base_seconds=0.2, analysis_max_attempts=2)
    assert await crm.queue.process_due() == 1
    async with database.session() as session:
        row = await session.get(Call, call.id)
    assert row.analysis_status == "pending" and row.analysis_attempts == 1
    assert row.analysis_error == "RuntimeError: assistant store unavailable"
    assert await crm.queue.process_due() == 0, "not due before the backoff"
    await asyncio.sleep(0.25)
    assert await crm.queue.process_due() == 1
    async with database.session() as session:
        row = await session.get(Call, call.id)
    assert (row.analysis_status, row.analysis_attempts, row.analysis_error) == ("fallback", 2, None)

    failures["left"] = 5
    other = await record_call(database, SALES_CALL, sid="CA-fail", phone="+14155550188")
    await crm.queue.process_due()
    await asyncio.sleep(0.25)
    await crm.queue.process_due()
    async with database.session() as session:
        row = await session.get(Call, other.id)
    assert (row.analysis_status, row.analysis_attempts) == ("failed", 2) and row.outcome is None
    await crm.stop()


async def test_an_anonymous_caller_still_gets_a_call_score(database: Database):
    call = await record_call(database, SALES_CALL, sid="CA-anon", phone=None)
    crm = service(database)
    assert await crm.queue.process_due() == 1
    async with database.session() as session:
        row = await session.get(Call, call.id)
    assert (
        row.lead_id is None
        and row.outcome == "interested"
        and row.lead_score == row.analysis["score"]["value"]
    )
    assert row.analysis["score"]["explanation"]["adjustments"]["bant.budget"] == 5.0
    await crm.stop()
