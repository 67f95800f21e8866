"""One call in, one analysis out: by call status, by the LLM, or by the deterministic fallback."""

from __future__ import annotations

from dataclasses import replace

from loguru import logger

from crm.analysis import fallback
from crm.analysis.llm import LLMAnalyzer, LLMUnavailable
from crm.analysis.llm_reply import LLMReply
from crm.analysis.plan import AnalysisPlan
from crm.analysis.result import Bant, CallAnalysis, sentiment_label
from crm.analysis.summaries import unreached_summary
from crm.analysis.transcript import CallFacts, Transcript


class CallAnalyzer:
    """Analyses finished calls.

    Calls nobody talked on (no answer, busy, voicemail, a silent line) get their outcome
    from the call's status, without an LLM. Others go to the LLM when one is configured;
    when it is not, is unreachable or answers invalid JSON, the deterministic fallback
    (lexicon sentiment, keyword rules) fills what it can and the analysis says so.
    """

    def __init__(self, llm: LLMAnalyzer | None = None, competitors: tuple[str, ...] = ()):
        """Args:
        llm: The LLM analyser; None for fallback only.
        competitors: Competitor names the fallback looks for.
        """
        self.llm = llm
        self.competitors = competitors

    async def analyze(
        self, facts: CallFacts, transcript: Transcript, plan: AnalysisPlan
    ) -> CallAnalysis:
        """The analysis of one finished call (never raises for LLM trouble)."""
        unreached = self._unreached(facts, transcript)
        if unreached:
            return unreached
        rules = fallback.analyze(facts, transcript, plan, self.competitors)
        if self.llm is None:
            return replace(rules, note="no LLM configured")
        try:
            reply = await self.llm.analyze(facts, transcript, plan)
        except LLMUnavailable as e:
            logger.warning(
                f"call {facts.call_id}: analysis LLM unavailable ({e}); using the fallback"
            )
            return replace(rules, note=f"LLM unavailable: {e}")
        return merge(reply, rules, facts, plan)

    def _unreached(self, facts: CallFacts, transcript: Transcript) -> CallAnalysis | None:
        if facts.voicemail:
            kind, outcome = "voicemail", "voicemail"
        elif facts.never_connected:
            kind, outcome = "no_answer", "no_answer"
        elif not transcript.caller_lines:
            kind, outcome = "silent", "no_answer"
        else:
            return None
        return CallAnalysis(
            source="call-status",
            summary=unreached_summary(facts, kind, facts.language),
            outcome=outcome,
            intent="other",
            utterance_sentiments=fallback.line_sentiments(transcript.lines),
            connected=False,
            language=facts.language,
        )

    async def close(self) -> None:
        """Release the LLM client."""
        if self.llm:
            await self.llm.close()


def merge(
    reply: LLMReply, rules: CallAnalysis, facts: CallFacts, plan: AnalysisPlan
) -> CallAnalysis:
    """The LLM's analysis, completed by the rules where it is silent (signals, line sentiment)."""
    signals = replace(
        rules.signals,
        **{k: v for k, v in reply.signals.model_dump().items() if v is not None},
    )
    outcome = "transferred" if facts.transfer_target else reply.outcome
    return CallAnalysis(
        source="llm",
        summary=(reply.summary or rules.summary) if plan.summary_enabled else None,
        outcome=outcome,
        sentiment_score=round(reply.sentiment_score, 3),
        sentiment_label=sentiment_label(reply.sentiment_score),
        utterance_sentiments=rules.utterance_sentiments
        | {
            seq: score
            for seq, score in reply.utterance_sentiments.items()
            if seq in rules.utterance_sentiments
        },
        intent=reply.intent,
        objections=reply.objections,
        competitors=reply.competitors,
        keywords=reply.keywords[:8],
        bant=Bant(**reply.bant.model_dump()),
        signals=signals,
        structured_data=reply.structured_data if plan.wants_structured_data else None,
        success_evaluation=reply.success_evaluation if plan.wants_success_evaluation else None,
        language=rules.language,
    )
