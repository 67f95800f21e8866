"""The JSON shapes of CRM records, shared by the admin API and outgoing webhooks (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm.models import (
    Appointment,
    AuditLog,
    AutomationRun,
    Call,
    Lead,
    Note,
    StageChange,
    Task,
    ToolCall,
    Utterance,
    WebhookDelivery,
)
from crm.recordings import content_type
from crm.strict_json import finite


def iso(value: datetime | None) -> str | None:
    """ISO 8601, or None."""
    return value.isoformat() if value else None


def call_summary(call: Call) -> dict[str, Any]:
    """A call in lists: who, when, how long, and what came of it."""
    return {
        "id": call.id,
        "provider": call.provider,
        "providerCallId": call.provider_call_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "assistant": call.assistant,
        "leadId": call.lead_id,
        "campaignId": call.campaign_id,
        "status": call.status,
        "createdAt": iso(call.created_at),
        "startedAt": iso(call.started_at),
        "answeredAt": iso(call.answered_at),
        "endedAt": iso(call.ended_at),
        "durationSeconds": finite(call.duration_seconds),
        "endReason": call.end_reason,
        "answeredBy": call.answered_by,
        "transferTarget": call.transfer_target,
        "language": call.language,
        "cost": finite(call.cost),
        "analysisStatus": call.analysis_status,
        "outcome": call.outcome,
        "intent": call.intent,
        "sentimentScore": finite(call.sentiment_score),
        "sentimentLabel": call.sentiment_label,
        "leadScore": call.lead_score,
        "summary": call.summary,
    }


def recording_path(call_id: str) -> str:
    """Where the API serves a call's own recording."""
    return f"/api/calls/{call_id}/recording"


def recording_json(call: Call) -> dict[str, Any] | None:
    """The call's recording: where to fetch it, when it began, how long; None when there is none.

    Our own recordings (``path`` is set) are stereo, the caller on the left and what
    the caller heard of the assistant on the right, served with auth at ``path``
    (``url`` is that path under PUBLIC_URL). A provider's recording (VAPI) has only
    its ``url``.
    """
    if call.recording_key:
        return {
            "url": call.recording_url,
            "path": recording_path(call.id),
            "contentType": content_type(call.recording_key),
            "channels": ["caller", "assistant"],
            "startedAt": iso(call.recording_started_at),
            "durationSeconds": call.recording_seconds,
            "bytes": call.recording_bytes,
        }
    if call.recording_url:
        return {"url": call.recording_url, "path": None, "startedAt": None, "durationSeconds": None}
    return None


def call_analysis(call: Call) -> dict[str, Any]:
    """A call's full analysis: everything the post-call job stored, with the score explained."""
    details = dict(call.analysis or {})
    score = details.pop("score", None)
    if isinstance(details.get("signals"), dict):
        details["signals"] = {_camel(k): v for k, v in details["signals"].items()}
    return {
        "status": call.analysis_status,
        "analyzedAt": iso(call.analyzed_at),
        "attempts": call.analysis_attempts,
        "error": call.analysis_error,
        "source": details.pop("source", None),
        "summary": call.summary,
        "sentiment": {"score": call.sentiment_score, "label": call.sentiment_label},
        "intent": call.intent,
        "outcome": call.outcome,
        "structuredData": call.structured_data,
        "successEvaluation": call.success_evaluation,
        "score": score,
        **{_camel(k): v for k, v in details.items()},
    }


def utterance_json(line: Utterance) -> dict[str, Any]:
    """A transcript line."""
    return {
        "seq": line.seq,
        "role": line.role,
        "text": line.text,
        "startedAt": iso(line.started_at),
        "endedAt": iso(line.ended_at),
        "interrupted": line.interrupted,
        "latency": line.latency,
        "sentiment": line.sentiment,
    }


def tool_call_json(row: ToolCall) -> dict[str, Any]:
    """A tool the assistant called."""
    return {
        "id": row.id,
        "toolCallId": row.tool_call_id,
        "name": row.name,
        "arguments": row.arguments,
        "result": row.result,
        "ok": row.ok,
        "error": row.error,
        "durationMs": row.duration_ms,
        "createdAt": iso(row.created_at),
    }


def lead_json(lead: Lead) -> dict[str, Any]:
    """A lead with every field."""
    return {
        "id": lead.id,
        "phone": lead.phone,
        "name": lead.name,
        "email": lead.email,
        "company": lead.company,
        "source": lead.source,
        "timezone": lead.timezone,
        "language": lead.language,
        "stage": lead.stage,
        "score": lead.score,
        "band": lead.band,
        "scoreExplanation": lead.score_explanation,
        "budget": lead.budget,
        "authority": lead.authority,
        "need": lead.need,
        "timeline": lead.timeline,
        "tags": list(lead.tags or []),
        "customFields": dict(lead.custom_fields or {}),
        "doNotCall": lead.do_not_call,
        "consentCalls": lead.consent_calls,
        "consentRecording": lead.consent_recording,
        "consentMarketing": lead.consent_marketing,
        "owner": lead.owner,
        "lastContactedAt": iso(lead.last_contacted_at),
        "createdAt": iso(lead.created_at),
        "updatedAt": iso(lead.updated_at),
    }


def lead_brief(lead: Lead) -> dict[str, Any]:
    """A lead in webhooks and lists of related records."""
    return {
        "id": lead.id,
        "phone": lead.phone,
        "name": lead.name,
        "email": lead.email,
        "company": lead.company,
        "stage": lead.stage,
        "score": lead.score,
        "band": lead.band,
        "tags": list(lead.tags or []),
        "owner": lead.owner,
    }


def task_json(task: Task) -> dict[str, Any]:
    """A task or callback."""
    return {
        "id": task.id,
        "kind": task.kind,
        "leadId": task.lead_id,
        "callId": task.call_id,
        "title": task.title,
        "reason": task.reason,
        "dueAt": iso(task.due_at),
        "status": task.status,
        "assignedTo": task.assigned_to,
        "createdBy": task.created_by,
        "createdAt": iso(task.created_at),
        "completedAt": iso(task.completed_at),
    }


def appointment_json(row: Appointment) -> dict[str, Any]:
    """An appointment."""
    return {
        "id": row.id,
        "leadId": row.lead_id,
        "callId": row.call_id,
        "resource": row.resource,
        "startsAt": iso(row.starts_at),
        "endsAt": iso(row.ends_at),
        "timezone": row.timezone,
        "title": row.title,
        "location": row.location,
        "notes": row.notes,
        "status": row.status,
        "createdAt": iso(row.created_at),
    }


def note_json(note: Note) -> dict[str, Any]:
    """A note."""
    return {
        "id": note.id,
        "leadId": note.lead_id,
        "callId": note.call_id,
        "body": note.body,
        "author": note.author,
        "createdAt": iso(note.created_at),
    }


def stage_change_json(change: StageChange) -> dict[str, Any]:
    """A stage move."""
    return {
        "id": change.id,
        "leadId": change.lead_id,
        "callId": change.call_id,
        "fromStage": change.from_stage,
        "toStage": change.to_stage,
        "reason": change.reason,
        "actor": change.actor,
        "createdAt": iso(change.created_at),
    }


def automation_run_json(run: AutomationRun) -> dict[str, Any]:
    """A rule run and its result."""
    return {
        "id": run.id,
        "ruleId": run.rule_id,
        "trigger": run.trigger,
        "subject": run.subject,
        "callId": run.call_id,
        "leadId": run.lead_id,
        "status": run.status,
        "result": run.result,
        "error": run.error,
        "createdAt": iso(run.created_at),
    }


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    """A webhook delivery and its attempts (without the payload)."""
    return {
        "id": row.id,
        "event": row.event,
        "eventKey": row.event_key,
        "url": row.url,
        "callId": row.call_id,
        "status": row.status,
        "attempts": row.attempts,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "nextAttemptAt": iso(row.next_attempt_at),
        "deliveredAt": iso(row.delivered_at),
        "history": row.history or [],
        "createdAt": iso(row.created_at),
    }


def audit_json(row: AuditLog) -> dict[str, Any]:
    """An audit log entry."""
    return {
        "id": row.id,
        "actor": row.actor,
        "action": row.action,
        "entityType": row.entity_type,
        "entityId": row.entity_id,
        "details": row.details,
        "createdAt": iso(row.created_at),
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
