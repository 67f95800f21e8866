"""The JSON shapes of CRM records in /api answers (what :mod:`crm.shapes` builds), as models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from crm.api.agent_records import TransferOut
from crm.api.http import Json, Out


class CallSummary(Out):
    """A call in lists: who, when, how long, and what came of it."""

    id: str
    provider: str
    provider_call_id: str | None
    direction: str
    from_: str | None = Field(alias="from")
    to: str | None
    assistant: str | None
    lead_id: str | None
    campaign_id: str | None
    status: str
    created_at: datetime | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    end_reason: str | None
    answered_by: str | None
    transfer_target: str | None
    cost: float | None
    analysis_status: str | None
    outcome: str | None
    intent: str | None
    sentiment_score: float | None
    sentiment_label: str | None
    lead_score: int | None
    summary: str | None
    language: str | None


class Line(Out):
    """A transcript line (the assistant's as the caller heard it)."""

    seq: int
    role: str
    text: str
    started_at: datetime | None
    ended_at: datetime | None
    interrupted: bool
    latency: Json | None
    sentiment: float | None


class ToolCallOut(Out):
    """A tool the assistant called."""

    id: int
    tool_call_id: str | None
    name: str
    arguments: Json
    result: Any
    ok: bool
    error: str | None
    duration_ms: float | None
    created_at: datetime | None


class Sentiment(Out):
    score: float | None
    label: str | None


class Analysis(Out):
    """A call's analysis; besides these, each analysed signal under its own (camelCase) key."""

    model_config = ConfigDict(extra="allow")
    status: str | None
    analyzed_at: datetime | None
    attempts: int | None
    error: str | None
    source: str | None
    summary: str | None
    sentiment: Sentiment
    intent: str | None
    outcome: str | None
    structured_data: Json | None
    success_evaluation: str | None
    score: Json | None


class RuleRun(Out):
    """A rule run and its result."""

    id: int
    rule_id: str
    trigger: str
    subject: str | None
    call_id: str | None
    lead_id: str | None
    status: str
    result: Json | None
    error: str | None
    created_at: datetime | None


class Recording(Out):
    """Where a call's recording is: ours (stereo, caller left, assistant right) or a provider's."""

    url: str | None
    path: str | None
    content_type: str | None = None
    channels: list[str] | None = None
    started_at: datetime | None
    duration_seconds: float | None
    bytes: int | None = None


class CallDetail(CallSummary):
    """A call with its transcript, tool calls, analysis, rule runs and transfers to agents."""

    transcript: list[Line]
    tool_calls: list[ToolCallOut]
    analysis: Analysis
    automation_runs: list[RuleRun]
    latency: Json | None
    recording_url: str | None
    recording: Recording | None
    transfers: list[TransferOut]


class LeadOut(Out):
    """A lead with every field."""

    id: str
    phone: str
    name: str | None
    email: str | None
    company: str | None
    source: str | None
    timezone: str | None
    language: str | None
    stage: str | None
    score: int | None
    band: str | None
    score_explanation: Json | None
    budget: str | None
    authority: str | None
    need: str | None
    timeline: str | None
    tags: list[Any]
    custom_fields: Json
    do_not_call: bool | None
    consent_calls: bool | None
    consent_recording: bool | None
    consent_marketing: bool | None
    owner: str | None
    last_contacted_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class TaskOut(Out):
    """A task or callback."""

    id: str
    kind: str
    lead_id: str | None
    call_id: str | None
    title: str
    reason: str | None
    due_at: datetime | None
    status: str
    assigned_to: str | None
    created_by: str | None
    created_at: datetime | None
    completed_at: datetime | None


class AppointmentOut(Out):
    """An appointment."""

    id: str
    lead_id: str | None
    call_id: str | None
    resource: str
    starts_at: datetime
    ends_at: datetime
    timezone: str | None
    title: str | None
    location: str | None
    notes: str | None
    status: str
    created_at: datetime | None


class NoteOut(Out):
    """A note."""

    id: int
    lead_id: str
    call_id: str | None
    body: str
    author: str | None
    created_at: datetime | None


class StageChangeOut(Out):
    """A stage move."""

    id: int
    lead_id: str
    call_id: str | None
    from_stage: str | None
    to_stage: str
    reason: str | None
    actor: str | None
    created_at: datetime | None


class DeliveryOut(Out):
    """A webhook delivery and its attempts (without the payload)."""

    id: int
    event: str
    event_key: str
    url: str
    call_id: str | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    history: list[Json]
    created_at: datetime | None


class AuditEntry(Out):
    id: int
    actor: str
    action: str
    entity_type: str | None
    entity_id: str | None
    details: Json | None
    created_at: datetime | None


class RowProblem(Out):
    line: int
    column: str | None
    message: str


class ImportCounts(Out):
    """What a CSV import did: rows read, leads created, updated, unchanged, duplicates merged."""

    rows: int
    created: int
    updated: int
    unchanged: int
    merged_duplicates: int
    errors: list[RowProblem]
