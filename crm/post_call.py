"""After a call: analysis, score, stage, rules and webhooks, committed together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.analysis.analyzer import CallAnalyzer
from crm.analysis.plan import AnalysisPlan
from crm.analysis.result import BANT, CallAnalysis
from crm.analysis.transcript import CallFacts, Transcript
from crm.db import Database
from crm.models import Appointment, Call, Lead, ToolCall, Utterance, utcnow
from crm.policy import Policy
from crm.rules.changes import Changes
from crm.rules.engine import RuleEngine
from crm.scoring import Score, score_call
from crm.webhooks import payloads
from crm.webhooks.outbox import enqueue

# What an assistant asks of the analysis, by assistant name (None: the defaults).
PlanLookup = Callable[[str | None], AnalysisPlan | None]
# An assistant's ``server`` {url, secret} for its end-of-call report, by assistant name
# (None: none).
ServerLookup = Callable[[str | None], "tuple[str, str] | None"]


@dataclass(frozen=True)
class _Loaded:
    facts: CallFacts
    transcript: Transcript
    assistant: str | None


class PostCallJob:
    """Analyses one finished call and applies what follows from it.

    The LLM is asked outside any transaction; then one transaction stores the analysis,
    scores the lead, moves its stage, runs the rules and queues the webhooks. A crash
    before the commit leaves the call pending for a retry; a call no longer pending is
    left alone, so running the job twice changes nothing.
    """

    def __init__(
        self,
        db: Database,
        policy: Policy,
        analyzer: CallAnalyzer,
        plans: PlanLookup | None = None,
        servers: ServerLookup | None = None,
    ):
        """Args:
        db: The database.
        policy: Stages, scoring, rules, webhooks.
        analyzer: The call analyser (LLM and fallback).
        plans: What an assistant asks of the analysis, by name (read from its ``analysisPlan``).
        servers: The ``server`` {url, secret} of an assistant by name: its end-of-call report goes
            there too.
        """
        self.db = db
        self.policy = policy
        self.analyzer = analyzer
        self.engine = RuleEngine(policy)
        self._plans = plans or (lambda name: None)
        self._servers = servers or (lambda name: None)

    async def run(self, call_id: str) -> str:
        """Analyse and apply; returns the new analysis status, or ``skipped``."""
        loaded = await self._load(call_id)
        if loaded is None:
            return "skipped"
        plan = self._plans(loaded.assistant) or AnalysisPlan()
        analysis = await self.analyzer.analyze(loaded.facts, loaded.transcript, plan)
        async with self.db.session() as session:
            call = await session.get(Call, call_id, with_for_update=True)
            if call is None or call.analysis_status != "pending":
                return "skipped"
            return await self._apply(session, call, analysis)

    async def _load(self, call_id: str) -> _Loaded | None:
        async with self.db.session() as session:
            call = await session.get(Call, call_id)
            if call is None or call.analysis_status != "pending":
                return None
            lines = await session.scalars(
                select(Utterance).where(Utterance.call_id == call_id).order_by(Utterance.seq)
            )
            tools = await session.scalars(
                select(ToolCall).where(ToolCall.call_id == call_id).order_by(ToolCall.id)
            )
            language = call.language or (
                await session.scalar(select(Lead.language).where(Lead.id == call.lead_id))
                if call.lead_id
                else None
            )
            return _Loaded(
                CallFacts.of(call, list(tools), language), Transcript.of(lines), call.assistant
            )

    async def _apply(self, session: AsyncSession, call: Call, analysis: CallAnalysis) -> str:
        lead = await session.get(Lead, call.lead_id) if call.lead_id else None
        lines = list(
            await session.scalars(
                select(Utterance).where(Utterance.call_id == call.id).order_by(Utterance.seq)
            )
        )
        _store(call, lines, analysis)
        changes = Changes(session, self.policy, lead=lead, call=call, subject=call.id)
        _emit_call_events(changes, analysis)
        score = None
        if lead is not None:
            _update_lead(lead, call, analysis)
        if (
            analysis.connected
        ):  # only a conversation rescores; an unanswered call leaves the score be
            score = score_call(
                self.policy.scoring,
                analysis.signals,
                call.duration_seconds,
                lead_bant(lead) if lead else analysis.bant.known(),
                analysis.outcome,
            )
            changes.set_score(score)
        if lead is not None:
            await self._advance(session, changes, lead, call, analysis)
        await self.engine.run(changes)
        _record_score(call, lead, score, analysis)
        call.analysis_status = "fallback" if analysis.source == "fallback" else "done"
        call.analyzed_at, call.analysis_next_at, call.analysis_error = utcnow(), None, None
        await self._queue_webhooks(session, call, lead, lines)
        return call.analysis_status

    async def _advance(
        self,
        session: AsyncSession,
        changes: Changes,
        lead: Lead,
        call: Call,
        analysis: CallAnalysis,
    ) -> None:
        booked = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.call_id == call.id, Appointment.status == "booked")
        )
        target = self.policy.stages.advance_target(
            lead.stage, outcome=analysis.outcome, connected=analysis.connected, booked=bool(booked)
        )
        if target:
            await changes.move_stage(
                target, reason=f"call outcome: {analysis.outcome}", actor="auto-advance"
            )

    async def _queue_webhooks(
        self, session: AsyncSession, call: Call, lead: Lead | None, lines: list[Utterance]
    ) -> None:
        settings = self.policy.webhooks
        server = self._servers(call.assistant)
        if not settings.urls and not server:
            return
        tools = list(
            await session.scalars(
                select(ToolCall).where(ToolCall.call_id == call.id).order_by(ToolCall.id)
            )
        )
        report = payloads.end_of_call_report(call, lead, lines, tools)
        lead_id = lead.id if lead else call.lead_id
        key = f"end-of-call-report:{call.id}"
        await enqueue(
            session,
            settings,
            event="end-of-call-report",
            key=key,
            payload=report,
            call_id=call.id,
            lead_id=lead_id,
        )
        # The assistant file's server.url gets its report here as on VAPI, whoever carried the call.
        if server:
            await enqueue(
                session,
                settings,
                event="end-of-call-report",
                key=key,
                payload=report,
                call_id=call.id,
                lead_id=lead_id,
                url=server[0],
                secret=server[1] or None,
            )
        if not settings.urls:
            return
        await enqueue(
            session,
            settings,
            event="call.analyzed",
            key=f"call.analyzed:{call.id}",
            payload=payloads.call_analyzed(call, lead),
            call_id=call.id,
            lead_id=lead_id,
        )


def lead_bant(lead: Lead) -> list[str]:
    """The BANT fields known about a lead."""
    return [name for name in BANT if getattr(lead, name)]


def _store(call: Call, lines: list[Utterance], analysis: CallAnalysis) -> None:
    call.summary = analysis.summary
    call.sentiment_score, call.sentiment_label = analysis.sentiment_score, analysis.sentiment_label
    call.intent, call.outcome = analysis.intent, analysis.outcome
    call.structured_data, call.success_evaluation = (
        analysis.structured_data,
        analysis.success_evaluation,
    )
    call.analysis = analysis.details()
    for line in lines:
        line.sentiment = analysis.utterance_sentiments.get(line.seq)


def _update_lead(lead: Lead, call: Call, analysis: CallAnalysis) -> None:
    for name in BANT:
        value = getattr(analysis.bant, name)
        if value:
            setattr(lead, name, value)
    if analysis.connected:
        lead.last_contacted_at = call.ended_at or utcnow()
    if analysis.language and not lead.language:
        lead.language = analysis.language


def _emit_call_events(changes: Changes, analysis: CallAnalysis) -> None:
    if analysis.connected:
        changes.emit("call_completed")
    changes.emit(f"outcome_{analysis.outcome}")
    if analysis.connected and analysis.sentiment_label in ("positive", "negative"):
        changes.emit(f"sentiment_{analysis.sentiment_label}")
    if analysis.outcome in ("no_answer", "voicemail"):
        changes.emit(analysis.outcome)


def _record_score(
    call: Call, lead: Lead | None, score: Score | None, analysis: CallAnalysis
) -> None:
    """The score after this call and its rules, kept on the call too (for filters and history).

    Without a lead (an anonymous caller) the call keeps its own conversation score.
    """
    details = dict(call.analysis or {})
    if lead is not None:
        call.lead_score = lead.score
        details["score"] = {
            "value": lead.score,
            "band": lead.band,
            "explanation": lead.score_explanation,
            "rescored": analysis.connected,
        }
    elif score is not None:
        call.lead_score = score.value
        details["score"] = {
            "value": score.value,
            "band": score.band,
            "explanation": score.explanation,
            "rescored": True,
        }
    call.analysis = details
