"""Post-call analysis: the fallback (English, Spanish), plans, and the LLM over real HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crm.analysis.analyzer import CallAnalyzer
from crm.analysis.lexicon import sentiment
from crm.analysis.llm import LLMAnalyzer, LLMSettings
from crm.analysis.plan import AnalysisPlan
from crm.analysis.transcript import CallFacts, Transcript
from tests.crm.conftest import SALES_CALL
from tests.fakes.openai_server import FakeOpenAI, JsonReply

SPANISH_CALL = [
    ("assistant", "Hola, le llamo de Fibra Max. ¿Tiene un momento?"),
    ("user", "Hola. ¿Cuánto cuesta el plan de internet?"),
    ("assistant", "Cuarenta y cinco euros al mes."),
    ("user", "Es muy caro, ya tengo Movistar. No me interesa, gracias."),
]
SCHEMA_PLAN = AnalysisPlan(
    structured_data_schema={
        "type": "object",
        "properties": {
            "budget": {"type": "string"},
            "objections": {"type": "array"},
            "plan": {"type": "string"},
        },
    },
    success_evaluation_prompt="Did they book?",
    success_evaluation_rubric="PassFail",
)


def facts(call_id: str = "call-1", **kwargs) -> CallFacts:
    return CallFacts(call_id=call_id, duration_seconds=kwargs.pop("duration_seconds", 60), **kwargs)


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Yes, that sounds great, thank you!", 1),
        ("Perfecto, me encanta, muchas gracias", 1),
        ("No, I am not interested.", -1),
        ("Esto es pésimo, estoy muy enojado", -1),
        ("Not bad at all", 1),
        ("No me gusta nada", -1),
        ("What time do you open on Saturday?", 0),
        ("¿A qué hora abren el sábado?", 0),
    ],
)
def test_lexicon_sentiment_in_english_and_spanish(text: str, sign: int):
    score = sentiment(text)
    assert -1 <= score <= 1
    assert (score > 0.2) if sign > 0 else (score < -0.2) if sign < 0 else score == 0


async def test_fallback_reads_an_english_sales_call():
    analysis = await CallAnalyzer().analyze(
        facts(), Transcript.from_pairs(SALES_CALL), AnalysisPlan()
    )
    assert analysis.source == "fallback" and analysis.note == "no LLM configured"
    assert analysis.outcome == "interested" and analysis.intent == "information"
    assert analysis.sentiment_label == "positive" and analysis.sentiment_score > 0.25
    assert (
        analysis.signals.price_questions,
        analysis.signals.information_requests,
        analysis.signals.positive_answers,
        analysis.signals.caller_turns,
    ) == (1, 1, 2, 3)
    assert (
        analysis.bant.budget == "My budget is 50 dollars"
        and analysis.bant.timeline == "I need it next week"
    )
    assert "fiber" in analysis.keywords and analysis.language == "en"
    assert (
        set(analysis.utterance_sentiments) == {1, 2, 3, 4, 5, 6}
        and analysis.utterance_sentiments[4] > 0
    )
    assert analysis.summary.startswith("Inbound call of 1m00s, 3 caller turns.")


async def test_fallback_reads_a_spanish_refusal_with_objections_and_a_competitor():
    analyzer = CallAnalyzer(competitors=("Claro", "Movistar"))
    analysis = await analyzer.analyze(
        facts(direction="outbound"), Transcript.from_pairs(SPANISH_CALL), AnalysisPlan()
    )
    assert analysis.outcome == "not_interested" and analysis.intent == "objection"
    assert analysis.objections == ["price", "competitor"] and analysis.competitors == ["Movistar"]
    assert analysis.sentiment_label == "negative" and analysis.language == "es"
    assert analysis.bant.need is None, "'no me interesa' is not a stated need"
    assert analysis.summary.startswith("Llamada saliente de 1m00s")


async def test_fallback_fills_the_structured_data_it_can():
    plan = SCHEMA_PLAN
    analysis = await CallAnalyzer().analyze(facts(), Transcript.from_pairs(SALES_CALL), plan)
    assert analysis.structured_data == {"budget": "My budget is 50 dollars", "objections": []}
    assert analysis.success_evaluation is None


async def test_a_disabled_structured_data_plan_fills_nothing():
    plan = replace(SCHEMA_PLAN, structured_data_enabled=False)
    analysis = await CallAnalyzer().analyze(facts(), Transcript.from_pairs(SALES_CALL), plan)
    assert analysis.structured_data is None


def llm_analyzer(llm: FakeOpenAI, timeout: float = 5.0) -> CallAnalyzer:
    return CallAnalyzer(
        LLMAnalyzer(
            LLMSettings(base_url=llm.url, api_key="k", model="analysis-model", timeout=timeout)
        )
    )


async def test_llm_analysis_in_json_mode(llm: FakeOpenAI):
    llm.json_script.append(
        JsonReply(
            {
                "summary": "Caller wants 300 Mb fiber, asked price and coverage; booking a visit.",
                "sentiment_score": 0.8,
                "utterance_sentiments": {"2": 0.1, "4": 0.9, "99": 1},
                "intent": "purchase",
                "outcome": "Interested",
                "objections": ["price"],
                "competitors": [],
                "keywords": ["fiber", "coverage"],
                "bant": {"budget": "50 dollars", "timeline": "next week", "need": None},
                "signals": {"price_questions": 1, "information_requests": 2, "positive_answers": 2},
                "structured_data": {"plan": "300 Mb"},
                "success_evaluation": True,
            },
            match="call-llm",
        )
    )
    analyzer = llm_analyzer(llm)
    analysis = await analyzer.analyze(
        facts("call-llm"), Transcript.from_pairs(SALES_CALL), SCHEMA_PLAN
    )
    await analyzer.close()
    assert analysis.source == "llm" and analysis.note is None
    assert (analysis.intent, analysis.outcome, analysis.sentiment_label) == (
        "buy",
        "interested",
        "positive",
    )
    assert analysis.utterance_sentiments[4] == 0.9 and 99 not in analysis.utterance_sentiments
    assert analysis.utterance_sentiments[6] > 0, "lines the LLM skipped keep the lexicon's score"
    assert analysis.bant.budget == "50 dollars" and analysis.bant.need is None
    assert analysis.signals.information_requests == 2 and analysis.signals.caller_turns == 3
    assert analysis.structured_data == {"plan": "300 Mb"} and analysis.success_evaluation == "true"
    request = llm.json_requests[-1]
    assert (
        request["response_format"] == {"type": "json_object"}
        and request["model"] == "analysis-model"
    )
    assert (
        "Did they book?" in request["messages"][0]["content"]
        and '"plan"' in request["messages"][0]["content"]
    )
    assert "[2] Caller: Hi, how much" in request["messages"][1]["content"]


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        (JsonReply("Sure! The caller was happy.", match="call-bad"), "holds no JSON object"),
        (JsonReply('{"summary": "x", "intent": "buy"', match="call-bad"), "holds no JSON object"),
        (
            JsonReply(
                {
                    "summary": "x",
                    "sentiment_score": 0.2,
                    "intent": "shopping",
                    "outcome": "interested",
                },
                match="call-bad",
            ),
            "intent",
        ),
        (
            JsonReply(
                {"summary": "x", "sentiment_score": 3, "intent": "buy", "outcome": "interested"},
                match="call-bad",
            ),
            "sentiment_score",
        ),
        (JsonReply(status=500, match="call-bad"), "HTTP 500"),
        (JsonReply(delay=2.0, match="call-bad"), "no answer within"),
    ],
)
async def test_unusable_llm_answers_fall_back(llm: FakeOpenAI, reply: JsonReply, note: str):
    llm.json_script.extend([reply, reply])  # the client retries once
    analyzer = llm_analyzer(llm, timeout=0.5)
    analysis = await analyzer.analyze(
        facts("call-bad"), Transcript.from_pairs(SALES_CALL), AnalysisPlan()
    )
    await analyzer.close()
    assert analysis.source == "fallback" and analysis.outcome == "interested"
    assert analysis.note.startswith("LLM unavailable") and note in analysis.note


@pytest.mark.parametrize(
    ("call_facts", "lines", "outcome"),
    [
        (facts(status="no-answer", answered=False), [], "no_answer"),
        (facts(status="busy", answered=False), [], "no_answer"),
        (
            facts(answered_by="machine_end_beep"),
            [("assistant", "Hi, this is Fibra Max calling.")],
            "voicemail",
        ),
        (facts(), [("assistant", "Hello? Are you there?")], "no_answer"),
    ],
)
async def test_calls_nobody_talked_on_need_no_llm(llm: FakeOpenAI, call_facts, lines, outcome):
    analyzer = llm_analyzer(llm)
    analysis = await analyzer.analyze(call_facts, Transcript.from_pairs(lines), AnalysisPlan())
    await analyzer.close()
    assert (analysis.source, analysis.outcome, analysis.connected) == (
        "call-status",
        outcome,
        False,
    )
    assert analysis.summary and not llm.json_requests
