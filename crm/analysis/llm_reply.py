"""The JSON an LLM answers with, validated and normalised (it comes from outside)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm.analysis.result import INTENTS, OUTCOMES

SYNONYMS = {
    "purchase": "buy",
    "buying": "buy",
    "compra": "buy",
    "informacion": "information",
    "info": "information",
    "objeccion": "objection",
    "objecion": "objection",
    "queja": "complaint",
    "otro": "other",
    "not interested": "not_interested",
    "no_interesado": "not_interested",
    "call_back": "callback",
    "call back": "callback",
    "no answer": "no_answer",
    "wrong number": "wrong_number",
    "interesado": "interested",
    "convertido": "converted",
    "sale": "converted",
    "transfer": "transferred",
}
FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


class InvalidReply(ValueError):
    """The LLM's answer is not the JSON object we asked for."""


class ReplyBant(BaseModel):
    """BANT as the LLM states it."""

    model_config = ConfigDict(extra="ignore")
    budget: str | None = None
    authority: str | None = None
    need: str | None = None
    timeline: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        if value in (None, "", False) or (
            isinstance(value, str) and value.lower() in {"null", "none", "unknown"}
        ):
            return None
        return str(value)[:500]


class ReplySignals(BaseModel):
    """Counts the LLM may give to replace keyword counts."""

    model_config = ConfigDict(extra="ignore")
    price_questions: int | None = Field(default=None, ge=0, le=100)
    information_requests: int | None = Field(default=None, ge=0, le=100)
    positive_answers: int | None = Field(default=None, ge=0, le=100)


class LLMReply(BaseModel):
    """The analysis object the prompt asks for."""

    model_config = ConfigDict(extra="ignore")
    summary: str | None = None
    sentiment_score: float = Field(ge=-1, le=1)
    intent: str
    outcome: str
    objections: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    bant: ReplyBant = Field(default_factory=ReplyBant)
    utterance_sentiments: dict[int, float] = Field(default_factory=dict)
    signals: ReplySignals = Field(default_factory=ReplySignals)
    structured_data: dict[str, Any] | None = None
    success_evaluation: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _nested_sentiment(cls, data: Any) -> Any:
        # Accept {"sentiment": {"score": 0.4, "label": ...}} and {"sentiment": 0.4} too.
        if isinstance(data, dict) and "sentiment_score" not in data:
            sentiment = data.get("sentiment")
            score = sentiment.get("score") if isinstance(sentiment, dict) else sentiment
            if isinstance(score, int | float):
                data = {**data, "sentiment_score": max(-1.0, min(1.0, float(score)))}
        return data

    @field_validator("intent", "outcome", mode="before")
    @classmethod
    def _enum(cls, value: Any, info) -> str:
        allowed = INTENTS if info.field_name == "intent" else OUTCOMES
        text = str(value or "").strip().lower()
        text = SYNONYMS.get(text, text).replace(" ", "_").replace("-", "_")
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    @field_validator("objections", "competitors", "keywords", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> list[str]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [str(item).strip()[:80] for item in items if str(item).strip()][:20]

    @field_validator("utterance_sentiments", mode="before")
    @classmethod
    def _per_line(cls, value: Any) -> dict[int, float]:
        pairs = (
            value.items()
            if isinstance(value, dict)
            else (
                (item.get("seq"), item.get("score"))
                for item in value or []
                if isinstance(item, dict)
            )
        )
        out = {}
        for seq, score in pairs:
            try:
                out[int(seq)] = max(-1.0, min(1.0, float(score)))
            except (TypeError, ValueError):
                continue
        return out

    @field_validator("success_evaluation", mode="before")
    @classmethod
    def _evaluation(cls, value: Any) -> str | None:
        if value is None:
            return None
        return (
            json.dumps(value)
            if isinstance(value, dict | list)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )


def parse_reply(content: str | None) -> LLMReply:
    """The reply's JSON object, validated.

    Raises:
        InvalidReply: Not JSON, not an object, or fields missing or out of range.
    """
    text = FENCE.sub("", (content or "").strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise InvalidReply("the answer holds no JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as e:
        raise InvalidReply(f"invalid JSON: {e.msg} at character {e.pos}") from None
    try:
        return LLMReply.model_validate(data)
    except ValueError as e:
        raise InvalidReply(f"unexpected JSON: {_short(e)}") from None


def _short(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()[:5])
    return str(error)[:300]
