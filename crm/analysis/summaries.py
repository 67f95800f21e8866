"""Deterministic summaries in the caller's language (English or Spanish)."""

from __future__ import annotations

from crm.analysis.result import CallAnalysis
from crm.analysis.transcript import CallFacts

TEXT = {
    "en": {
        "call": "{direction} call of {duration}, {turns} caller turns.",
        "inbound": "Inbound",
        "outbound": "Outbound",
        "intent": "Caller intent: {intent}; outcome: {outcome}; sentiment: {sentiment}.",
        "asked": "The caller asked about price {price} time(s) and for information {info} time(s).",
        "objections": "Objections: {items}.",
        "competitors": "Competitors mentioned: {items}.",
        "topics": "Topics: {items}.",
        "unreached": {
            "no_answer": "Nobody answered the {direction} call ({status}).",
            "voicemail": "The {direction} call reached voicemail ({answered_by}).",
            "silent": "The caller said nothing before the call ended.",
        },
    },
    "es": {
        "call": "Llamada {direction} de {duration}, {turns} intervenciones del cliente.",
        "inbound": "entrante",
        "outbound": "saliente",
        "intent": "Intención: {intent}; resultado: {outcome}; sentimiento: {sentiment}.",
        "asked": (
            "El cliente preguntó por el precio {price} vez/veces "
            "y pidió información {info} vez/veces."
        ),
        "objections": "Objeciones: {items}.",
        "competitors": "Competidores mencionados: {items}.",
        "topics": "Temas: {items}.",
        "unreached": {
            "no_answer": "Nadie contestó la llamada {direction} ({status}).",
            "voicemail": "La llamada {direction} llegó al buzón de voz ({answered_by}).",
            "silent": "El cliente no dijo nada antes de que terminara la llamada.",
        },
    },
}


def _duration(seconds: float | None) -> str:
    total = round(seconds or 0)
    return f"{total // 60}m{total % 60:02d}s"


def _texts(language: str | None) -> dict:
    return TEXT.get(language or "en", TEXT["en"])


def fallback_summary(facts: CallFacts, analysis: CallAnalysis) -> str:
    """A few factual sentences about a connected call."""
    t = _texts(analysis.language)
    direction = t.get(facts.direction, facts.direction)
    parts = [
        t["call"].format(
            direction=direction,
            duration=_duration(facts.duration_seconds),
            turns=analysis.signals.caller_turns,
        ),
        t["intent"].format(
            intent=analysis.intent, outcome=analysis.outcome, sentiment=analysis.sentiment_label
        ),
    ]
    if analysis.signals.price_questions or analysis.signals.information_requests:
        parts.append(
            t["asked"].format(
                price=analysis.signals.price_questions, info=analysis.signals.information_requests
            )
        )
    for key, items in (
        ("objections", analysis.objections),
        ("competitors", analysis.competitors),
        ("topics", analysis.keywords[:5]),
    ):
        if items:
            parts.append(t[key].format(items=", ".join(items)))
    return " ".join(parts)


def unreached_summary(facts: CallFacts, kind: str, language: str | None) -> str:
    """One sentence for a call nobody talked on: ``no_answer``, ``voicemail`` or ``silent``."""
    t = _texts(language)
    direction = t.get(facts.direction, facts.direction)
    return t["unreached"][kind].format(
        direction=direction.lower(), status=facts.status, answered_by=facts.answered_by or "machine"
    )
