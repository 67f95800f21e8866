"""The analysis prompt: what to extract, the assistant's own instructions, and the transcript."""

from __future__ import annotations

import json

from crm.analysis.plan import AnalysisPlan, fill_placeholders
from crm.analysis.result import BANT, INTENTS, OUTCOMES
from crm.analysis.transcript import CallFacts, Transcript

MAX_TRANSCRIPT_CHARS = 24_000

BASE = f"""You analyse a finished phone call between an AI assistant and a caller, for a sales team.
Answer with ONE JSON object and nothing else, with exactly these keys:
"summary": 2-4 sentences in the caller's language: who called, what they want, what happens next.
"sentiment_score": the caller's overall sentiment, a number from -1 (very negative) \
to 1 (very positive).
"utterance_sentiments": an object mapping each transcript line number to its sentiment (-1..1).
"intent": the caller's main intent, one of {", ".join(INTENTS)}.
"outcome": one of {", ".join(OUTCOMES)}.
"objections": kinds of objection the caller raised (e.g. price, timing, need, competitor, \
trust, authority).
"competitors": competitor companies or products the caller mentioned.
"keywords": up to 8 topics of the call.
"bant": an object with {", ".join(f'"{name}"' for name in BANT)}: what the caller said, or null.
"signals": an object with "price_questions", "information_requests", "positive_answers": how many
times the caller asked about price, asked for specific information, and answered yes or agreed.
"""


def system_prompt(plan: AnalysisPlan, facts: CallFacts) -> str:
    """The system message: our keys plus the assistant's summary, data and evaluation plans."""
    values = {"transcript": "the transcript below", "endedReason": facts.end_reason or ""}
    parts = [BASE]
    if plan.summary_prompt:
        parts.append("For the summary: " + fill_placeholders(plan.summary_prompt, values))
    if plan.wants_structured_data:
        schema = json.dumps(plan.structured_data_schema or {"type": "object"})
        instructions = fill_placeholders(
            plan.structured_data_prompt or "", values | {"schema": schema}
        )
        parts.append(
            '"structured_data": an object following this JSON schema: '
            + schema
            + (f"\nInstructions: {instructions}" if instructions else "")
        )
    if plan.wants_success_evaluation:
        rubric = plan.success_evaluation_rubric or "PassFail"
        instructions = fill_placeholders(
            plan.success_evaluation_prompt or "", values | {"rubric": rubric}
        )
        parts.append(
            f'"success_evaluation": whether the call met its goal, graded with the {rubric} rubric '
            '(PassFail: "true" or "false"; NumericScale: 1-10; '
            "DescriptiveScale: Excellent, Good, Fair, Poor), as a string.\n"
            f"Instructions: {instructions or 'judge by the assistant goal'}"
        )
    return "\n\n".join(parts)


def user_prompt(facts: CallFacts, transcript: Transcript) -> str:
    """The user message: the call's facts and its numbered transcript."""
    text = transcript.render()
    if len(text) > MAX_TRANSCRIPT_CHARS:
        half = MAX_TRANSCRIPT_CHARS // 2
        text = text[:half] + "\n[... middle of the call left out ...]\n" + text[-half:]
    tools = ", ".join(facts.tool_calls) or "none"
    return (
        f"Call id: {facts.call_id}\nDirection: {facts.direction}\n"
        f"Duration: {round(facts.duration_seconds or 0)} seconds\n"
        f"Ended: {facts.end_reason or 'unknown'}\n"
        f"Transferred to: {facts.transfer_target or 'no'}\nTools the assistant used: {tools}\n\n"
        f"Transcript:\n{text}"
    )
