"""SQLAlchemy models: leads, calls and what was said, follow-ups, rules, webhooks, campaigns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A public identifier for a row (32 hex characters)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and
    tagged UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Lead(Base):
    """A person the business talks to, keyed by phone number (E.164)."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_stage", "stage"),
        Index("ix_leads_score", "score"),
        Index("ix_leads_created_at", "created_at"),
        Index("ix_leads_band", "band"),
        Index("ix_leads_last_contacted_at", "last_contacted_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    stage: Mapped[str] = mapped_column(String(32), default="new")
    score: Mapped[int] = mapped_column(Integer, default=0)
    band: Mapped[str | None] = mapped_column(String(24))
    score_explanation: Mapped[dict[str, Any] | None] = mapped_column()
    budget: Mapped[str | None] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(Text)
    need: Mapped[str | None] = mapped_column(Text)
    timeline: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_calls: Mapped[bool | None] = mapped_column(Boolean)
    consent_recording: Mapped[bool | None] = mapped_column(Boolean)
    consent_marketing: Mapped[bool | None] = mapped_column(Boolean)
    owner: Mapped[str | None] = mapped_column(String(128))
    last_contacted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    calls: Mapped[list[Call]] = relationship(back_populates="lead", passive_deletes=True)


class Call(Base):
    """One phone call, inbound or outbound, from the first webhook to hang-up."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("provider", "provider_call_id", name="uq_calls_provider_call"),
        Index("ix_calls_created_at", "created_at"),
        Index("ix_calls_status", "status"),
        Index("ix_calls_outcome", "outcome"),
        Index("ix_calls_assistant", "assistant"),
        Index("ix_calls_campaign_id", "campaign_id"),
        Index("ix_calls_lead_id", "lead_id"),
        Index("ix_calls_lead_score", "lead_score"),
        Index("ix_calls_analysis_due", "analysis_status", "analysis_next_at"),
        Index("ix_calls_ended_at", "ended_at"),
        Index("ix_calls_lease_until", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(16), default="twilio")
    provider_call_id: Mapped[str | None] = mapped_column(String(64))
    provider_stream_id: Mapped[str | None] = mapped_column(String(64))
    provider_account_id: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
    assistant: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24), default="ringing")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(48))
    latency: Mapped[dict[str, Any] | None] = mapped_column()
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    lead_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="SET NULL")
    )
    campaign_id: Mapped[str | None] = mapped_column(String(32))
    answered_by: Mapped[str | None] = mapped_column(String(24))  # human, machine, unknown
    transfer_target: Mapped[str | None] = mapped_column(String(200))
    # ISO 639-1: the assistant's language, or the one a bilingual call's caller spoke
    language: Mapped[str | None] = mapped_column(String(8))
    recording_url: Mapped[str | None] = mapped_column(Text)
    # Our own recording of the call (crm.recordings): where it is stored, when it began, its size
    recording_key: Mapped[str | None] = mapped_column(String(200))
    recording_started_at: Mapped[datetime | None] = mapped_column()
    recording_seconds: Mapped[float | None] = mapped_column(Float)
    recording_bytes: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    # The server instance holding the live call, and until when (renewed while it lives);
    # a call not ended whose lease lapsed lost its instance and is settled by another.
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    # When the provider's end-of-call report was stored (VAPI retries it: stored once)
    provider_report_at: Mapped[datetime | None] = mapped_column()
    # Post-call analysis
    analysis_status: Mapped[str | None] = mapped_column(
        String(16)
    )  # pending, done, fallback, failed
    analysis_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    analysis_next_at: Mapped[datetime | None] = (
        mapped_column()
    )  # due time, or the running job's lease
    analysis_error: Mapped[str | None] = mapped_column(Text)
    analyzed_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[str | None] = mapped_column(Text)
    sentiment_score: Mapped[float | None] = mapped_column(Float)  # -1..1
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(24))
    outcome: Mapped[str | None] = mapped_column(String(24))
    lead_score: Mapped[int | None] = mapped_column(Integer)
    structured_data: Mapped[dict[str, Any] | None] = mapped_column()
    success_evaluation: Mapped[str | None] = mapped_column(Text)
    analysis: Mapped[dict[str, Any] | None] = mapped_column()

    lead: Mapped[Lead | None] = relationship(back_populates="calls")
    tool_calls: Mapped[list[ToolCall]] = relationship(
        back_populates="call",
        order_by="ToolCall.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    utterances: Mapped[list[Utterance]] = relationship(
        back_populates="call",
        order_by="Utterance.seq",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Utterance(Base):
    """A line of the transcript: one caller transcription or one bot turn as heard."""

    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_utterances_call_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency: Mapped[dict[str, Any] | None] = mapped_column()
    sentiment: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[Call] = relationship(back_populates="utterances")


class ToolCall(Base):
    """A tool the assistant called during a call: arguments, result, success, duration."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    tool_call_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[Any | None] = mapped_column(JSON)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[Call] = relationship(back_populates="tool_calls")


class Appointment(Base):
    """A booked slot (e.g. a visit or a demo) for a lead."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_starts_at", "starts_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    lead_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="SET NULL")
    )
    resource: Mapped[str] = mapped_column(String(64), default="default")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked, cancelled, done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    """Something to do for a lead: a callback to dial, or a task for a person."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due_at", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="task")  # callback, task
    lead_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open, dialing, done, cancelled
    assigned_to: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(
        String(64), default="system"
    )  # assistant, rule:<id>, api
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()


class Note(Base):
    """A free-text note on a lead."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StageChange(Base):
    """A lead moving from one pipeline stage to another, with why and who."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="SET NULL")
    )
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DoNotCall(Base):
    """A number that must never be dialled."""

    __tablename__ = "do_not_call"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationRun(Base):
    """One automation rule run for one trigger (idempotent per rule, call and trigger)."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("rule_id", "trigger", "subject", name="uq_automation_runs_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))  # what it ran for, e.g. the call id
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # ok, skipped, error
    result: Mapped[dict[str, Any] | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """An outgoing webhook and every attempt to deliver it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_key", "url", name="uq_webhook_deliveries_event_url"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(
        String(160)
    )  # idempotency: e.g. end-of-call-report:<call id>
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column()
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    # The lead it is about (no foreign key: a GDPR erase deletes the delivery with the lead).
    lead_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    history: Mapped[list[Any] | None] = (
        mapped_column()
    )  # one entry per attempt: at, status code, error, ms
    # An assistant's server.secret: sent as X-Vapi-Secret and used to sign (else WEBHOOK_SECRET)
    secret: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Who changed what, through the API or automatically."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """An outbound calling campaign: who to call, with which assistant, when, and how often."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(24), default="custom")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    assistant: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(16), default="twilio")
    from_number: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    config: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # audience, schedule, window, limits
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    dialer_lock_at: Mapped[datetime | None] = mapped_column()  # touched to serialize claims
    audience_enrolled_at: Mapped[datetime | None] = mapped_column()
    # The circuit breaker (crm.outbound.breaker): why it paused, when, and when it resumes.
    pause_reason: Mapped[str | None] = mapped_column(Text)
    breaker_tripped_at: Mapped[datetime | None] = mapped_column()
    resume_at: Mapped[datetime | None] = mapped_column()


class CampaignContact(Base):
    """One lead in one campaign, and where its dialing stands."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "lead_id", name="uq_campaign_contacts_campaign_lead"),
        Index("ix_campaign_contacts_due", "campaign_id", "status", "next_attempt_at"),
        Index("ix_campaign_contacts_last_call_id", "last_call_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    lead_id: Mapped[str] = mapped_column(String(32), ForeignKey("leads.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    zones: Mapped[list[Any]] = mapped_column(default=list)  # time zones whose window applies
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending, calling, completed, failed, skipped
    reason: Mapped[str | None] = mapped_column(String(48))  # why skipped or failed
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_outcome: Mapped[str | None] = mapped_column(String(24))
    last_call_id: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column()
    task_id: Mapped[str | None] = mapped_column(String(32))  # the callback task it fulfils, if any
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DialLock(Base):
    """A number being dialled right now: one row per number, so nobody is called twice at once.

    Taken with an INSERT (the primary key makes it exclusive on SQLite and PostgreSQL
    alike, across campaigns and server instances) and dropped when the call ends; an
    expired lock (a crashed dialer) may be taken over.
    """

    __tablename__ = "dial_locks"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the dashboard's (or, later, the agent console's) session cookie.

    Only a hash of the cookie's token is stored, so reading the table gives no one a
    session. ``credential`` is a fingerprint of what was used to sign in (the admin API
    key): when that key changes, its sessions stop working.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires_at", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # admin (agent: the console, later)
    subject: Mapped[str | None] = mapped_column(String(64))  # who, for roles with many people
    credential: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Agent(Base):
    """A person who takes transfers: how to ring them, which queues they serve, and if they can.

    Only a hash of the agent's token is stored (it signs the console in, or is a bearer key
    for the agent's own /api routes); the token is shown once, when made.
    """

    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_presence", "presence"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164, rung on a transfer
    sip_uri: Mapped[str | None] = mapped_column(String(200))  # or a SIP URI
    queues: Mapped[list[Any]] = mapped_column(default=list)  # queue names (skills)
    language: Mapped[str | None] = mapped_column(String(8))
    presence: Mapped[str] = mapped_column(String(16), default="offline")  # available, busy...
    presence_at: Mapped[datetime] = mapped_column(default=utcnow)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Transfer(Base):
    """One escalation of a call to a queue or a person, and how it went.

    ``attempts`` lists each agent rung: ``{agentId, rangAt, ringSeconds, outcome}``.
    """

    __tablename__ = "transfers"
    __table_args__ = (
        Index("ix_transfers_status", "status"),
        Index("ix_transfers_agent_id", "agent_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    queue: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8), default="warm")  # warm, blind
    kind: Mapped[str] = mapped_column(String(16), default="transfer")  # transfer, takeover
    # offered, ringing, bridged, no-answer, declined, all-busy, failed, transferred
    status: Mapped[str] = mapped_column(String(16), default="offered")
    agent_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("agents.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[list[Any]] = mapped_column(default=list)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    rang_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    bridged_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    bridge_seconds: Mapped[float | None] = mapped_column(Float)  # escalation to bridge
    error: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
