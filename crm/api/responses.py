"""What /api answers, as pydantic models: the OpenAPI document's response schemas.

The handlers build their JSON with :mod:`crm.shapes`; these models (and the records in
:mod:`crm.api.records`) describe it. The API tests check every answer against the document,
so a shape that drifts from its model fails.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from crm.api.http import Json, Out
from crm.api.records import (
    AppointmentOut,
    AuditEntry,
    CallSummary,
    DeliveryOut,
    ImportCounts,
    LeadOut,
    NoteOut,
    RuleRun,
    StageChangeOut,
    TaskOut,
)


class Problem(Out):
    """A problem with one field or line."""

    field: str
    message: str


class Error(Out):
    """Every error: a code, a sentence, and (for bad input) each field's problem; an import's
    refusal also carries its report."""

    model_config = ConfigDict(extra="allow")
    error: str
    detail: str
    fields: list[Problem] | None = None


class Paged(Out):
    """A page of a list."""

    total: int
    limit: int
    offset: int


class CallPage(Paged):
    data: list[CallSummary]


class LeadPage(Paged):
    data: list[LeadOut]


class TaskPage(Paged):
    data: list[TaskOut]


class AppointmentPage(Paged):
    data: list[AppointmentOut]


class LeadDetail(LeadOut):
    """A lead with its recent calls, notes, open tasks, appointments and stage history."""

    calls: list[CallSummary]
    notes: list[NoteOut]
    open_tasks: list[TaskOut]
    appointments: list[AppointmentOut]
    stage_history: list[StageChangeOut]


class StageMoved(Out):
    """The lead after a move, and the move (None when it was already there)."""

    lead: LeadOut
    change: StageChangeOut | None


class StageHistory(Out):
    data: list[StageChangeOut]


class ImportReport(ImportCounts):
    """What an import did (or, with ``dryRun``, would do)."""

    dry_run: bool


class Erased(Out):
    """What an erase removed, by kind."""

    model_config = ConfigDict(extra="allow")
    erased: str
    calls: int


class LeadExport(Out):
    """Everything about a lead (GDPR access request)."""

    model_config = ConfigDict(extra="allow")
    exported_at: datetime
    lead: LeadOut
    calls: list[Json]
    notes: list[NoteOut]
    tasks: list[TaskOut]
    appointments: list[AppointmentOut]
    stage_history: list[StageChangeOut]
    automation_runs: list[RuleRun]
    webhook_deliveries: list[Json]


class Rules(Out):
    """The loaded rules (each as in its file, with ``file``), highest priority first."""

    data: list[Json]


class RuleRunPage(Paged):
    data: list[RuleRun]


class DeliveryPage(Paged):
    data: list[DeliveryOut]


class AuditPage(Paged):
    data: list[AuditEntry]


class Summary(Out):
    """The KPIs: calls per period, rates, averages, outcomes, score distribution, calls by hour."""

    range: Json
    calls: dict[str, int]
    answered: int
    answer_rate: float | None
    average_duration_seconds: float | None
    average_sentiment: float | None
    average_score: float | None
    conversions: int
    conversion_rate: float | None
    outcomes: dict[str, int]
    score_distribution: Json
    calls_by_hour: list[Json]


class StageCount(Out):
    name: str
    closed: bool
    leads: int


class BandOut(Out):
    name: str
    label: str | None
    min: int
    max: int


class Pipeline(Out):
    stages: list[StageCount]
    bands: list[BandOut]


class SessionOut(Out):
    """Who is signed in, and the CSRF token a signed-in browser sends on writes."""

    role: str
    via: str
    subject: str | None
    actor: str
    csrf_token: str | None
    expires_at: datetime | None


class Progress(Out):
    """Contacts by state (with reasons), calls made, answered, conversions and cost."""

    contacts: dict[str, int]
    skipped_reasons: dict[str, int]
    failed_reasons: dict[str, int]
    calls_made: int
    answered: int
    conversions: int
    conversion_rate: float
    cost: float


class CampaignOut(Out):
    """A campaign's definition (as in its file) and state."""

    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    pause_reason: str | None = None
    resume_at: datetime | None = None


class CampaignDetail(CampaignOut):
    progress: Progress


class CampaignList(Out):
    data: list[CampaignOut]
    total: int


class ContactOut(Out):
    """A campaign contact and where its dialing stands."""

    id: str
    lead_id: str | None
    phone: str
    zones: list[str]
    status: str
    reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_outcome: str | None
    last_call_id: str | None


class ContactPage(Paged):
    data: list[ContactOut]


class Enrolled(Out):
    """Leads enrolled now and those already in the campaign (and a CSV's import report)."""

    enrolled: int
    already_enrolled: int
    import_: ImportCounts | None = Field(default=None, alias="import")
