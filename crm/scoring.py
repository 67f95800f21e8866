"""Lead scoring: weighted components 0–100, adjusted by BANT and outcome, banded, explained."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crm.analysis.result import BANT, OUTCOMES, Signals
from crm.json_paths import problems

COMPONENTS = (
    "interaction",
    "price_questions",
    "information_requests",
    "talk_time",
    "positive_answers",
)
UNITS = {
    "interaction": "caller turns",
    "price_questions": "price questions",
    "information_requests": "information requests",
    "talk_time": "seconds of talk",
    "positive_answers": "positive answers",
}


class ScoringError(ValueError):
    """A scoring file cannot be used; the message names the file, the field and the reason."""


class Band(BaseModel):
    """A score range with a name (``hot``), a label for people and what to do with such leads."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=24, pattern=r"^[a-z0-9_]+$")
    label: str | None = None
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)
    action: str | None = None


class ScoringConfig(BaseModel):
    """Weights (seed 003), full-marks targets, BANT and outcome adjustments, bands (seed 000)."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "interaction": 30,
            "price_questions": 25,
            "information_requests": 20,
            "talk_time": 15,
            "positive_answers": 10,
        }
    )
    full_marks_at: dict[str, float] = Field(
        default_factory=lambda: {
            "interaction": 6,
            "price_questions": 2,
            "information_requests": 3,
            "talk_time": 180,
            "positive_answers": 3,
        }
    )
    bant: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(BANT, 5))
    outcomes: dict[str, float] = Field(
        default_factory=lambda: {
            "converted": 30,
            "interested": 10,
            "callback": 5,
            "transferred": 5,
            "not_interested": -25,
            "wrong_number": -100,
        }
    )
    bands: list[Band] = Field(
        default_factory=lambda: [
            Band(name="cold", label="Frío", min=0, max=20),
            Band(name="warm", label="Tibio", min=21, max=40),
            Band(name="interested", label="Interesado", min=41, max=60),
            Band(name="hot", label="Caliente", min=61, max=80),
            Band(name="very_hot", label="Muy caliente", min=81, max=100),
        ]
    )

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        for field, keys in (
            ("weights", COMPONENTS),
            ("full_marks_at", COMPONENTS),
            ("bant", BANT),
            ("outcomes", OUTCOMES),
        ):
            unknown = set(getattr(self, field)) - set(keys)
            if unknown:
                raise ValueError(
                    f"{field}: unknown {', '.join(sorted(unknown))}; known: {', '.join(keys)}"
                )
        if abs(sum(self.weights.values()) - 100) > 0.01:
            raise ValueError(f"weights must add up to 100, not {sum(self.weights.values()):g}")
        if any(v <= 0 for v in self.full_marks_at.values()):
            raise ValueError("full_marks_at values must be positive")
        bands = sorted(self.bands, key=lambda b: b.min)
        if (
            not bands
            or bands[0].min != 0
            or bands[-1].max != 100
            or any(b.min > b.max or nxt.min != b.max + 1 for b, nxt in pairwise(bands))
        ):
            raise ValueError(
                "bands must cover 0..100 without gaps or overlaps (e.g. 0-20, 21-40, ...)"
            )
        if len({b.name for b in bands}) != len(bands):
            raise ValueError("band names must be unique")
        self.bands = bands
        return self

    @classmethod
    def load(cls, path: Path | None) -> ScoringConfig:
        """The scoring file at ``path``, or the defaults when there is none.

        Raises:
            ScoringError: Unreadable JSON or invalid content, with the file and the field.
        """
        if path is None or not path.exists():
            return cls()
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise ScoringError(
                f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from None
        except ValidationError as e:
            raise ScoringError(f"{path}: {problems(e)}") from None

    def band_for(self, score: float) -> Band:
        """The band a score falls in."""
        value = max(0, min(100, round(score)))
        return next(b for b in self.bands if b.min <= value <= b.max)


@dataclass
class Score:
    """A score, its band and how it came about."""

    value: int
    band: str
    explanation: dict[str, Any]


def score_call(
    config: ScoringConfig,
    signals: Signals,
    talk_seconds: float | None,
    bant_known: list[str],
    outcome: str | None,
) -> Score:
    """Score one conversation: components, then BANT and outcome adjustments.

    The explanation lists each component (weight, value 0..1, points, what was counted)
    and each adjustment with the points it actually moved (the score stays in 0..100).
    """
    counts = {
        "interaction": signals.caller_turns,
        "price_questions": signals.price_questions,
        "information_requests": signals.information_requests,
        "talk_time": round(talk_seconds or 0),
        "positive_answers": signals.positive_answers,
    }
    components = {}
    for name in COMPONENTS:
        weight = config.weights.get(name, 0)
        target = config.full_marks_at.get(name, 1)
        value = min(1.0, counts[name] / target)
        components[name] = {
            "weight": weight,
            "value": round(value, 3),
            "points": round(weight * value, 1),
            "detail": f"{counts[name]} {UNITS[name]} (full marks at {target:g})",
        }
    explanation: dict[str, Any] = {"components": components, "adjustments": {}}
    running = sum(c["points"] for c in components.values())
    explanation["base"] = round(running, 1)
    for field in bant_known:
        running = _adjust(explanation, running, f"bant.{field}", config.bant.get(field, 0))
    if outcome:
        running = _adjust(
            explanation, running, f"outcome.{outcome}", config.outcomes.get(outcome, 0)
        )
    return _finish(config, explanation, running)


def adjust_score(
    config: ScoringConfig,
    explanation: dict[str, Any] | None,
    current: int,
    reason: str,
    points: float,
) -> Score:
    """Apply one more adjustment (e.g. a rule's) to a stored score and its explanation."""
    explanation = json.loads(
        json.dumps(explanation or {"components": {}, "adjustments": {}, "base": current})
    )
    explanation.setdefault("adjustments", {})
    return _finish(config, explanation, _adjust(explanation, current, reason, points))


def _adjust(explanation: dict[str, Any], running: float, reason: str, points: float) -> float:
    if not points:
        return running
    moved = max(0.0, min(100.0, running + points)) - running
    if not moved:  # capped: the score is already at 0 or 100
        return running
    adjustments = explanation["adjustments"]
    adjustments[reason] = round(adjustments.get(reason, 0) + moved, 1)
    return running + moved


def _finish(config: ScoringConfig, explanation: dict[str, Any], running: float) -> Score:
    value = max(0, min(100, round(running)))
    band = config.band_for(value).name
    explanation["total"] = value
    explanation["band"] = band
    return Score(value=value, band=band, explanation=explanation)
