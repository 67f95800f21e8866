"""The rule file format, validated with pydantic (unknown keys are errors: typos must not pass)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from crm.analysis.result import OUTCOMES

TRIGGERS = (
    "call_completed",
    *(f"outcome_{outcome}" for outcome in OUTCOMES),
    "sentiment_positive",
    "sentiment_negative",
    "no_answer",
    "voicemail",
    "score_crossed",
    "band_changed",
    "stage_changed",
    "inactivity_days",
)
OPERATORS = {
    "eq": "eq",
    "=": "eq",
    "==": "eq",
    "equals": "eq",
    "ne": "ne",
    "!=": "ne",
    "not_equals": "ne",
    "gt": "gt",
    ">": "gt",
    "gte": "gte",
    ">=": "gte",
    "lt": "lt",
    "<": "lt",
    "lte": "lte",
    "<=": "lte",
    "in": "in",
    "not_in": "not_in",
    "contains": "contains",
    "not_contains": "not_contains",
    "exists": "exists",
    "not_exists": "not_exists",
}


class RulePart(BaseModel):
    """Base of every part of a rule file: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class Condition(RulePart):
    """``{"field": "call.sentiment_score", "operator": ">", "value": 0.7}``."""

    field: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z_][\w.]*$")
    operator: str
    value: Any = None

    @field_validator("operator")
    @classmethod
    def _operator(cls, value: str) -> str:
        if value.lower() not in OPERATORS:
            raise ValueError(f"unknown operator {value!r}; use one of: {', '.join(OPERATORS)}")
        return OPERATORS[value.lower()]


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    is_group = isinstance(value, dict | Conditions) and (
        ("all" in value or "any" in value) if isinstance(value, dict) else True
    )
    return "group" if is_group else "condition"


class Conditions(RulePart):
    """``{"all": [...]}`` or ``{"any": [...]}``; items are conditions or nested groups."""

    all: list[Item] | None = None
    any: list[Item] | None = None

    @model_validator(mode="after")
    def _one(self) -> Conditions:
        if (self.all is None) == (self.any is None):
            raise ValueError('give exactly one of "all" or "any"')
        return self


Item = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated["Conditions", Tag("group")],
    Discriminator(_kind),
]
Conditions.model_rebuild()
WhenClause = Annotated[
    Annotated[Conditions, Tag("group")]
    | Annotated[list[Condition], Tag("list")]
    | Annotated[Condition, Tag("condition")],
    Discriminator(_kind),
]
TAGS = frozenset({"condition", "group", "list"})


class AdjustScore(RulePart):
    """Add ``by`` points to the lead's score, or ``set`` it."""

    type: Literal["adjust_score"]
    by: int | None = Field(default=None, ge=-100, le=100)
    set: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one(self) -> AdjustScore:
        if (self.by is None) == (self.set is None):
            raise ValueError('give exactly one of "by" or "set"')
        return self


class SetStage(RulePart):
    """Move the lead to a stage (forward only, unless ``force``; never out of won/lost)."""

    type: Literal["set_stage"]
    stage: str
    force: bool = False


class AddTag(RulePart):
    """Tag the lead."""

    type: Literal["add_tag", "remove_tag"]
    tag: str = Field(min_length=1, max_length=64)


class CreateTask(RulePart):
    """A task for a person, due in ``in_hours``."""

    type: Literal["create_task"]
    title: str = Field(min_length=1, max_length=200)
    in_hours: float = Field(default=0, ge=0, le=24 * 365)
    assigned_to: str | None = None
    reason: str | None = None


class ScheduleCallback(RulePart):
    """A callback for the dialer, due in ``in_hours``."""

    type: Literal["schedule_callback"]
    in_hours: float = Field(ge=0, le=24 * 365)
    title: str = Field(default="Call back", min_length=1, max_length=200)
    reason: str | None = None


class AddNote(RulePart):
    """A note on the lead; ``{call.summary}``-style fields are filled in."""

    type: Literal["add_note"]
    body: str = Field(min_length=1, max_length=4000)


class SendWebhook(RulePart):
    """An outgoing webhook to ``url`` (default: every WEBHOOK_URLS), named ``event``."""

    type: Literal["webhook"]
    url: str | None = Field(default=None, pattern=r"^https?://")
    event: str = Field(default="automation", min_length=1, max_length=64)


class MarkDoNotCall(RulePart):
    """Put the lead's number on the do-not-call list."""

    type: Literal["mark_do_not_call"]
    reason: str | None = None


class TransferToHuman(RulePart):
    """Hand the lead to a person now: a live transfer while the caller is still on the line
    (the score became known in the call), else a task due now for a person to call back."""

    type: Literal["transfer_to_human"]
    reason: str = Field(default="{lead.band} lead ({lead.score})", min_length=1, max_length=500)
    title: str = Field(
        default="Call {lead.name} ({lead.phone}) back now: {lead.band} lead",
        min_length=1,
        max_length=200,
        description="the callback task's title when the caller is no longer on the line",
    )
    assigned_to: str | None = None


class EnrollInCampaign(RulePart):
    """Add the lead to a campaign (by name), e.g. a nurturing one."""

    type: Literal["enroll_in_campaign"]
    campaign: str = Field(min_length=1, max_length=128)
    in_hours: float = Field(default=0, ge=0, le=24 * 365, description="first call no sooner")


class AssignOwner(RulePart):
    """Give the lead to a salesperson or team."""

    type: Literal["assign_owner"]
    owner: str = Field(min_length=1, max_length=128)


Action = Annotated[
    AdjustScore
    | SetStage
    | AddTag
    | CreateTask
    | ScheduleCallback
    | AddNote
    | SendWebhook
    | MarkDoNotCall
    | AssignOwner
    | TransferToHuman
    | EnrollInCampaign,
    Field(discriminator="type"),
]


class Rule(RulePart):
    """One automation rule.

    ``trigger`` is one of :data:`TRIGGERS`; ``score_crossed`` needs ``threshold`` (and
    optionally ``direction``: up, down, any), ``inactivity_days`` needs ``days``, and
    ``band_changed`` fires when the lead enters ``band`` (a band of the scoring file; none:
    any band). Higher ``priority`` runs first.
    """

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.-]*$")
    name: str | None = None
    description: str | None = None
    enabled: bool = True
    priority: int = 0
    trigger: str
    threshold: int | None = Field(default=None, ge=0, le=100)
    direction: Literal["up", "down", "any"] = "up"
    days: float | None = Field(default=None, gt=0, le=3650)
    band: str | None = Field(default=None, max_length=24)
    conditions: WhenClause | None = None
    actions: list[Action] = Field(min_length=1)

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, value: str) -> str:
        if value not in TRIGGERS:
            raise ValueError(f"unknown trigger {value!r}; use one of: {', '.join(TRIGGERS)}")
        return value

    @model_validator(mode="after")
    def _trigger_needs(self) -> Rule:
        if self.trigger == "score_crossed" and self.threshold is None:
            raise ValueError('trigger "score_crossed" needs "threshold" (0-100)')
        if self.trigger == "inactivity_days" and self.days is None:
            raise ValueError('trigger "inactivity_days" needs "days"')
        if isinstance(self.conditions, list):
            self.conditions = Conditions(all=self.conditions)
        elif isinstance(self.conditions, Condition):
            self.conditions = Conditions(all=[self.conditions])
        return self
