"""What a campaign is, as written in a campaign JSON file or sent to /api/campaigns."""

from __future__ import annotations

import json
import re
from datetime import datetime, time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from crm.json_paths import problems
from crm.outbound.calling_windows import CallingWindow, WindowError, zone

CAMPAIGN_TYPES = (
    "cold_calling",
    "follow_up",
    "nurturing",
    "reactivation",
    "appointment",
    "survey",
    "collections",
    "custom",
)
RETRY_OUTCOMES = ("no-answer", "busy", "failed", "voicemail")


class SpecPart(BaseModel):
    """camelCase keys in files and the API; unknown keys are errors (a typo must not pass)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Audience(SpecPart):
    """Which leads the campaign calls (every given condition must hold)."""

    stages: list[str] = Field(default_factory=list)
    min_score: int | None = Field(default=None, ge=0, le=100)
    max_score: int | None = Field(default=None, ge=0, le=100)
    tags: list[str] = Field(default_factory=list, description="any of these tags")
    source: str | None = None
    created_since: datetime | None = None
    inactive_days: int | None = Field(
        default=None, ge=1, description="not contacted for this many days"
    )


class Window(SpecPart):
    """Calling hours, applied in each lead's own time zone."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    days: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday"
    )

    def calling_window(self) -> CallingWindow:
        """As the checker the dialer uses."""
        return CallingWindow(start=self.start, end=self.end, days=frozenset(self.days))


class Schedule(SpecPart):
    """When the campaign runs; ``recurrence`` re-reads the audience every day or week."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    recurrence: Literal["none", "daily", "weekly"] = "none"

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("dates need a time zone offset, e.g. 2026-12-01T09:00:00+01:00")
        return self


class Limits(SpecPart):
    """How hard the dialer tries."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_minutes: dict[str, int] = Field(
        default_factory=lambda: {"no-answer": 120, "busy": 30, "failed": 60, "voicemail": 240}
    )
    max_calls_per_day: int | None = Field(default=None, ge=1)
    max_concurrent: int = Field(default=2, ge=1, le=500)
    paced_to_queue: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="progressive dialing: no more calls at once than this queue has agents "
        "available, so that no caller the assistant transfers waits on hold for nobody",
    )
    max_calls_per_number_per_day: int | None = Field(
        default=None, ge=1, description="calls each caller ID may place a day (every campaign)"
    )

    @field_validator("retry_minutes")
    @classmethod
    def _known_outcomes(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(RETRY_OUTCOMES)
        if unknown:
            raise ValueError(
                f"retry outcomes are {', '.join(RETRY_OUTCOMES)}; unknown: "
                f"{', '.join(sorted(unknown))}"
            )
        if any(minutes < 1 for minutes in value.values()):
            raise ValueError("retry delays are at least 1 minute")
        return value


class Breaker(SpecPart):
    """When the campaign pauses itself instead of burning every lead's attempts.

    Over its last ``window`` finished attempts (at least ``minAttempts``), too many failed
    (carrier errors, invalid numbers, the provider refusing or unreachable) or too few
    were answered: the campaign pauses, says why, and resumes after ``coolDownMinutes``
    (none: only by hand).
    """

    enabled: bool = True
    window: int = Field(default=20, ge=3, le=1000)
    min_attempts: int = Field(default=10, ge=3, le=1000)
    max_failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_answer_rate: float | None = Field(default=None, ge=0, le=1)
    cool_down_minutes: int | None = Field(default=30, ge=1)


class Triggers(SpecPart):
    """Leads that enter the campaign by themselves while it is active."""

    new_lead_within_minutes: int | None = Field(
        default=None,
        ge=1,
        description=(
            "call leads created in the last this many minutes (that the audience selects), "
            "ahead of every other contact, inside the window"
        ),
    )
    callbacks: bool = Field(
        default=False, description="dial callbacks scheduled by assistants and rules"
    )
    rules: bool = Field(
        default=False,
        description="automation rules add leads (enroll_in_campaign): the campaign stays open",
    )


class CampaignSpec(SpecPart):
    """A campaign definition."""

    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    type: Literal[CAMPAIGN_TYPES] = "custom"  # type: ignore[valid-type]
    assistant: str | None = None
    provider: Literal["auto", "local", "twilio", "sip", "vapi"] = Field(
        default="auto",
        description=(
            "who places the calls: vapi, or our own pipeline through twilio (also local) or "
            "sip (the SIP trunk); auto: the from number's provider in the assistant files, "
            "else the assistant's provider"
        ),
    )
    from_number: str | None = Field(
        default=None, description="caller ID (E.164), else TWILIO_FROM_NUMBER"
    )
    from_numbers: list[str] = Field(
        default_factory=list,
        description=(
            "a pool of caller IDs (E.164): each call goes out from one sharing the lead's "
            "country and area code when there is one, spread across the pool, each under "
            "limits.maxCallsPerNumberPerDay"
        ),
    )
    timezone: str = Field(default="UTC", description="for leads whose zone is unknown")
    status: Literal["draft", "scheduled", "active"] = "draft"
    audience: Audience | None = Field(
        default=None,
        description=(
            "the leads to call ({} for every lead); none: only leads added by API, CSV or "
            "triggers. New leads of the newLeadWithinMinutes trigger must match it too"
        ),
    )
    schedule: Schedule = Field(default_factory=Schedule)
    window: Window = Field(default_factory=Window)
    limits: Limits = Field(default_factory=Limits)
    triggers: Triggers = Field(default_factory=Triggers)
    breaker: Breaker = Field(default_factory=Breaker)
    priority_by_score: bool = True

    @field_validator("from_numbers")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not re.fullmatch(r"\+[1-9]\d{6,14}", n)]
        if bad:
            raise ValueError(f"caller IDs must be E.164 (+14155550100): {', '.join(bad)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _usable(self) -> CampaignSpec:
        try:
            zone(self.timezone)
            self.window.calling_window()
        except WindowError as e:
            raise ValueError(str(e)) from None
        return self


class CampaignFileError(ValueError):
    """A campaign file that cannot be used: names the file, the field and the reason."""


def load_campaign_files(folder: Path) -> list[CampaignSpec]:
    """Every ``*.json`` campaign in ``folder`` (none if it does not exist).

    Raises:
        CampaignFileError: The first broken file, with where and why.
    """
    specs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            specs.append(CampaignSpec.model_validate(json.loads(path.read_text(encoding="utf-8"))))
        except json.JSONDecodeError as e:
            raise CampaignFileError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
        except ValidationError as e:
            raise CampaignFileError(f"{path}: {problems(e)}") from None
    return specs
