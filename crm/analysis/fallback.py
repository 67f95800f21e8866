"""The deterministic analysis: lexicon sentiment and keyword rules, no LLM needed."""

from __future__ import annotations

from crm.analysis import keywords as kw
from crm.analysis.lexicon import call_sentiment, sentiment
from crm.analysis.plan import AnalysisPlan
from crm.analysis.result import BANT, CallAnalysis, Signals, sentiment_label
from crm.analysis.summaries import fallback_summary
from crm.analysis.text import fold, has_phrase
from crm.analysis.transcript import CallFacts, Line, Transcript

WRONG_NUMBER = (
    "wrong number",
    "you have the wrong",
    "no one by that name",
    "nobody by that name",
    "numero equivocado",
    "se equivoco de numero",
    "aqui no vive",
    "no conozco a",
)
NOT_INTERESTED = (
    "not interested",
    "no thanks",
    "no thank you",
    "stop calling",
    "remove me",
    "take me off",
    "don't call",
    "do not call",
    "no me interesa",
    "no gracias",
    "no me llamen",
    "no vuelvan a llamar",
    "borrame",
    "quitame de la lista",
)
CONVERTED = (
    "i'll take it",
    "i will take it",
    "sign me up",
    "let's do it",
    "i want to buy",
    "i'll buy",
    "deal",
    "go ahead",
    "me lo llevo",
    "lo contrato",
    "quiero contratar",
    "trato hecho",
    "quiero comprarlo",
    "adelante",
)
CALLBACK = (
    "call me back",
    "call me later",
    "call me tomorrow",
    "call back",
    "call again",
    "llamame",
    "llameme",
    "vuelva a llamar",
    "vuelvan a llamar",
    "llamenme",
    "mas tarde",
)
INTERESTED = (
    "interested",
    "sounds good",
    "sounds great",
    "i like it",
    "tell me more",
    "send me",
    "would like",
    "i'd like",
    "me interesa",
    "suena bien",
    "me gusta",
    "enviame",
    "mandame",
    "cuentame mas",
    "quisiera",
    "me gustaria",
)
COMPLAINT = (
    "complaint",
    "not working",
    "doesn't work",
    "broken",
    "refund",
    "terrible service",
    "queja",
    "reclamo",
    "no funciona",
    "reembolso",
    "pesimo servicio",
)
BUY = (
    "buy",
    "purchase",
    "sign up",
    "subscribe",
    "book",
    "appointment",
    "hire",
    "order",
    "comprar",
    "contratar",
    "suscribir",
    "reservar",
    "agendar",
    "cita",
    "pedido",
)
# Tools that settle the outcome when the assistant used them successfully.
TOOL_OUTCOMES = {
    "transfer_to_human": "transferred",
    "transfer_call": "transferred",
    "opt_out": "not_interested",
    "schedule_callback": "callback",
    "book_appointment": "interested",
}


def analyze(
    facts: CallFacts, transcript: Transcript, plan: AnalysisPlan, competitors: tuple[str, ...] = ()
) -> CallAnalysis:
    """Analyse a connected call with lexicon sentiment and keyword rules."""
    caller = transcript.caller_lines
    text = fold("\n".join(line.text for line in caller))
    score = call_sentiment([line.text for line in caller])
    found_objections = kw.objections(caller)
    signals = kw.count_signals(caller)
    outcome = classify_outcome(facts, text, score, signals)
    intent = classify_intent(text, found_objections, signals, score)
    language = facts.language or kw.language(caller)
    analysis = CallAnalysis(
        source="fallback",
        summary=None,
        outcome=outcome,
        sentiment_score=score,
        sentiment_label=sentiment_label(score),
        utterance_sentiments=line_sentiments(transcript.lines),
        intent=intent,
        objections=found_objections,
        competitors=kw.competitors(caller, competitors),
        keywords=kw.keywords(caller),
        bant=kw.bant(caller),
        signals=signals,
        language=language,
    )
    analysis.structured_data = structured_fallback(plan, analysis)
    if plan.summary_enabled:
        analysis.summary = fallback_summary(facts, analysis)
    return analysis


def classify_outcome(facts: CallFacts, text: str, score: float | None, signals: Signals) -> str:
    """The outcome by tools used, then phrases, then sentiment."""
    if facts.transfer_target:
        return "transferred"
    for tool in facts.tool_calls:
        if tool in TOOL_OUTCOMES:
            return TOOL_OUTCOMES[tool]
    for phrases, outcome in (
        (WRONG_NUMBER, "wrong_number"),
        (NOT_INTERESTED, "not_interested"),
        (CONVERTED, "converted"),
        (CALLBACK, "callback"),
        (INTERESTED, "interested"),
    ):
        if has_phrase(text, phrases, affirmed=outcome != "not_interested"):
            return outcome
    if score is not None and score < -0.25:
        return "not_interested"
    engaged = signals.price_questions + signals.information_requests + signals.positive_answers
    return "interested" if engaged else "not_interested"


def classify_intent(text: str, objections: list[str], signals: Signals, score: float | None) -> str:
    """The caller's main intent: complaint, buy, objection, information or other."""
    if has_phrase(text, COMPLAINT):
        return "complaint"
    if has_phrase(text, BUY) or has_phrase(text, CONVERTED):
        return "buy"
    if objections:
        return "objection"
    if signals.price_questions or signals.information_requests:
        return "information"
    return "other"


def structured_fallback(plan: AnalysisPlan, analysis: CallAnalysis) -> dict | None:
    """Fill the schema's properties the rules know (BANT, intent, outcome...); None if no schema."""
    schema = plan.structured_data_schema if plan.wants_structured_data else None
    if not schema or not isinstance(schema.get("properties"), dict):
        return None
    known: dict[str, object] = {
        "intent": analysis.intent,
        "outcome": analysis.outcome,
        "sentiment": analysis.sentiment_label,
        "objections": analysis.objections,
        "competitors": analysis.competitors,
        "keywords": analysis.keywords,
        **{name: getattr(analysis.bant, name) for name in BANT},
    }
    data = {}
    for name, spec in schema["properties"].items():
        value = known.get(name.lower())
        wanted = spec.get("type") if isinstance(spec, dict) else None
        if value is None or (wanted == "array") != isinstance(value, list):
            continue
        data[name] = value
    return data


def line_sentiments(lines: tuple[Line, ...]) -> dict[int, float]:
    """Lexicon sentiment for each line."""
    return {line.seq: sentiment(line.text) for line in lines}
