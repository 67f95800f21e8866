"""The analysis of one call, as stored on the call and handed to scoring and rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

INTENTS = ("buy", "information", "objection", "complaint", "other")
OUTCOMES = (
    "interested",
    "not_interested",
    "callback",
    "converted",
    "no_answer",
    "voicemail",
    "wrong_number",
    "transferred",
)
POSITIVE_AT = 0.25  # sentiment above this is positive, below its negative is negative


def sentiment_label(score: float | None) -> str | None:
    """``positive``, ``neutral`` or ``negative`` for a score in −1..1."""
    if score is None:
        return None
    if score > POSITIVE_AT:
        return "positive"
    if score < -POSITIVE_AT:
        return "negative"
    return "neutral"


@dataclass
class Bant:
    """Budget, authority, need and timeline, as the caller stated them (None: not stated)."""

    budget: str | None = None
    authority: str | None = None
    need: str | None = None
    timeline: str | None = None

    def known(self) -> list[str]:
        """The BANT fields that were stated."""
        return [name for name, value in asdict(self).items() if value]


# The qualification fields, in order: on a call's analysis, and as columns of the lead.
BANT = tuple(f.name for f in fields(Bant))


@dataclass
class Signals:
    """Countable behaviour of the caller that scoring weighs.

    Parameters:
        caller_turns: Lines the caller said.
        caller_words: Words the caller said.
        price_questions: Lines asking about price or cost.
        information_requests: Lines asking for specific information.
        positive_answers: Lines answering yes / agreeing.
    """

    caller_turns: int = 0
    caller_words: int = 0
    price_questions: int = 0
    information_requests: int = 0
    positive_answers: int = 0


@dataclass
class CallAnalysis:
    """Everything the post-call analysis found.

    Parameters:
        source: ``llm``, ``fallback`` (deterministic rules, LLM unavailable or invalid)
            or ``call-status`` (nobody to analyze: no answer, voicemail).
        summary: A few sentences for a salesperson.
        sentiment_score: The caller's sentiment over the call, −1..1.
        sentiment_label: positive, neutral or negative.
        utterance_sentiments: Sentiment per transcript line, by sequence number.
        intent: One of :data:`INTENTS`.
        outcome: One of :data:`OUTCOMES`.
        objections: Objection kinds raised (price, timing, need, competitor, trust, authority...).
        competitors: Competitors the caller mentioned.
        keywords: Topics of the call.
        bant: Budget, authority, need, timeline.
        signals: Countable caller behaviour for scoring.
        structured_data: Per the assistant's structured-data schema.
        success_evaluation: Per the assistant's success-evaluation prompt.
        connected: Whether a person was on the line.
        language: Detected language of the caller (en, es).
        note: Why the LLM was not used, when it was not.
    """

    source: str
    summary: str | None
    outcome: str
    sentiment_score: float | None = None
    sentiment_label: str | None = None
    utterance_sentiments: dict[int, float] = field(default_factory=dict)
    intent: str | None = None
    objections: list[str] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    bant: Bant = field(default_factory=Bant)
    signals: Signals = field(default_factory=Signals)
    structured_data: dict[str, Any] | None = None
    success_evaluation: str | None = None
    connected: bool = True
    language: str | None = None
    note: str | None = None

    def details(self) -> dict[str, Any]:
        """What goes in ``calls.analysis`` (the columns hold the rest)."""
        return {
            "source": self.source,
            "connected": self.connected,
            "language": self.language,
            "objections": self.objections,
            "competitors": self.competitors,
            "keywords": self.keywords,
            "bant": asdict(self.bant),
            "signals": asdict(self.signals),
            "note": self.note,
        }
