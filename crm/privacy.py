"""GDPR: everything the CRM holds about a lead, and erasing it (transcripts included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit import audit
from crm.db import Database
from crm.models import (
    Appointment,
    AuditLog,
    AutomationRun,
    Call,
    DoNotCall,
    Lead,
    Note,
    StageChange,
    Task,
    ToolCall,
    Utterance,
    WebhookDelivery,
    utcnow,
)
from crm.recordings import NO_RECORDING, RecordingStorage
from crm.shapes import (
    appointment_json,
    audit_json,
    automation_run_json,
    call_analysis,
    call_summary,
    delivery_json,
    iso,
    lead_json,
    note_json,
    recording_json,
    stage_change_json,
    task_json,
    tool_call_json,
    utterance_json,
)

FTS_OPTIMIZE = "INSERT INTO utterances_fts(utterances_fts) VALUES ('optimize')"


async def export_lead(session: AsyncSession, lead: Lead) -> dict[str, Any]:
    """Every record about a lead, as JSON: lead, calls, transcripts, follow-ups, history, logs."""
    calls = []
    for call in await session.scalars(
        select(Call).where(Call.lead_id == lead.id).order_by(Call.created_at)
    ):
        lines = await session.scalars(
            select(Utterance).where(Utterance.call_id == call.id).order_by(Utterance.seq)
        )
        tools = await session.scalars(
            select(ToolCall).where(ToolCall.call_id == call.id).order_by(ToolCall.id)
        )
        calls.append(
            call_summary(call)
            | {
                "transcript": [utterance_json(u) for u in lines],
                "toolCalls": [tool_call_json(t) for t in tools],
                "analysis": call_analysis(call),
                "recordingUrl": call.recording_url,
                "recording": recording_json(call),
            }
        )
    call_ids = [c["id"] for c in calls]

    async def rows(model, *where, order=None):
        return list(await session.scalars(select(model).where(*where).order_by(order or model.id)))

    dnc = await session.scalar(select(DoNotCall).where(DoNotCall.phone == lead.phone))
    return {
        "exportedAt": iso(utcnow()),
        "lead": lead_json(lead),
        "calls": calls,
        "notes": [note_json(n) for n in await rows(Note, Note.lead_id == lead.id)],
        "tasks": [
            task_json(t) for t in await rows(Task, Task.lead_id == lead.id, order=Task.created_at)
        ],
        "appointments": [
            appointment_json(a)
            for a in await rows(
                Appointment, Appointment.lead_id == lead.id, order=Appointment.starts_at
            )
        ],
        "stageHistory": [
            stage_change_json(c) for c in await rows(StageChange, StageChange.lead_id == lead.id)
        ],
        "automationRuns": [
            automation_run_json(r)
            for r in await rows(AutomationRun, AutomationRun.lead_id == lead.id)
        ],
        "webhookDeliveries": [
            delivery_json(d)
            for d in await rows(
                WebhookDelivery,
                or_(WebhookDelivery.call_id.in_(call_ids), WebhookDelivery.lead_id == lead.id),
            )
        ],
        "doNotCall": {"reason": dnc.reason, "source": dnc.source, "createdAt": iso(dnc.created_at)}
        if dnc
        else None,
        "auditLog": [
            audit_json(a)
            for a in await rows(
                AuditLog, AuditLog.entity_type == "lead", AuditLog.entity_id == lead.id
            )
        ],
    }


async def erase_lead(
    session: AsyncSession,
    lead: Lead,
    *,
    actor: str,
    recordings: RecordingStorage | None = None,
) -> dict[str, int]:
    """Erase a lead: it, its follow-ups, its calls' transcripts, tool calls, recordings and reports.

    Recording files are deleted from ``recordings`` at once (before the commit: were
    the commit to fail, erasing again finds the rows and finishes). Calls stay as
    anonymous rows (no numbers, no words; outcome, duration, sentiment and score
    remain) so that analytics stay true. A do-not-call entry for the number stays:
    it is what keeps the number from being called again. Audit details are cleared.
    """
    call_ids = list(await session.scalars(select(Call.id).where(Call.lead_id == lead.id)))
    counts = {"calls": len(call_ids)}
    keys = list(
        await session.scalars(
            select(Call.recording_key).where(Call.id.in_(call_ids), Call.recording_key.is_not(None))
        )
    )
    counts["recordings"] = await recordings.delete(keys) if recordings and keys else 0
    for name, model in (("utterances", Utterance), ("toolCalls", ToolCall)):
        counts[name] = (
            await session.execute(delete(model).where(model.call_id.in_(call_ids)))
        ).rowcount
    # Every delivery about the lead, sent or not: its calls' reports and the ones with no call
    # (a stage moved by hand, by an import or by a rule), which carry its name, phone and email.
    counts["webhookDeliveries"] = (
        await session.execute(
            delete(WebhookDelivery).where(
                or_(WebhookDelivery.call_id.in_(call_ids), WebhookDelivery.lead_id == lead.id)
            )
        )
    ).rowcount
    for model in (Note, Task, Appointment, StageChange, AutomationRun):
        await session.execute(delete(model).where(model.lead_id == lead.id))
    await session.execute(
        update(Call)
        .where(Call.id.in_(call_ids))
        .values(
            from_number=None,
            to_number=None,
            **NO_RECORDING,
            summary=None,
            structured_data=None,
            success_evaluation=None,
            analysis=None,
            transfer_target=None,
            lead_id=None,
            extra={},
        )
    )
    await session.execute(
        update(AuditLog)
        .where(AuditLog.entity_type == "lead", AuditLog.entity_id == lead.id)
        .values(details=None)
    )
    await session.delete(lead)
    audit(session, actor, "lead.erase", "lead", lead.id, counts)
    if session.bind.dialect.name == "sqlite":
        # FTS5 keeps a deleted line's words in its delete markers until segments merge.
        await session.execute(text(FTS_OPTIMIZE))
    return counts


async def flush_erased(db: Database) -> None:
    """After an erase commits: on SQLite, copy the WAL into the database file and empty it.

    Deleted rows are zeroed as they go (``secure_delete``, see crm.db), but the WAL still
    holds the pages as they were until a checkpoint; PostgreSQL needs nothing here (its
    dead rows are not readable through SQL and are reclaimed by vacuum).
    """
    if not db.is_sqlite:
        return
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
