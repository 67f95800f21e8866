"""Webhook bodies: VAPI's end-of-call-report, and our CRM events in the same envelope."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from crm.models import Call, Campaign, Lead, StageChange, ToolCall, Utterance
from crm.shapes import call_analysis, call_summary, iso, lead_brief

# Our end reasons in VAPI's words, so integrations that switch on endedReason keep working.
ENDED_REASONS = {
    "caller-hangup": "customer-ended-call",
    "assistant-hangup": "assistant-ended-call",
    "disconnected": "phone-call-provider-closed-websocket",
    "idle-timeout": "silence-timed-out",
    "server-shutdown": "worker-shutdown",
    "max-duration": "exceeded-max-duration",
    "transferred": "assistant-forwarded-call",
    "provider-no-answer": "customer-did-not-answer",
    "provider-busy": "customer-busy",
    "provider-failed": "twilio-failed-to-connect-call",
    "provider-canceled": "manually-canceled",
    "provider-completed": "customer-ended-call",
}


def now_ms() -> int:
    """Milliseconds since the epoch (VAPI's message timestamp)."""
    return int(time.time() * 1000)


def envelope(kind: str, /, **fields: Any) -> dict[str, Any]:
    """``{"message": {"type": kind, "timestamp": ..., **fields}}``, as VAPI's server messages."""
    return {"message": {"type": kind, "timestamp": now_ms(), **fields}}


def ended_reason(call: Call) -> str:
    """The call's end reason in VAPI's vocabulary (ours when VAPI has no match)."""
    if (call.answered_by or "").startswith("machine"):
        return "voicemail"
    return ENDED_REASONS.get(call.end_reason or "", call.end_reason or "unknown")


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def _messages(call: Call, lines: list[Utterance], tools: list[ToolCall]) -> list[dict[str, Any]]:
    start = call.started_at or call.created_at
    items: list[tuple[float, dict[str, Any]]] = []
    for line in lines:
        begin, end = (
            line.started_at or line.created_at,
            line.ended_at or line.started_at or line.created_at,
        )
        items.append(
            (
                begin.timestamp(),
                {
                    "role": "user" if line.role == "user" else "bot",
                    "message": line.text,
                    "time": _ms(begin),
                    "endTime": _ms(end),
                    "secondsFromStart": round((begin - start).total_seconds(), 3),
                    "duration": int((end - begin).total_seconds() * 1000),
                },
            )
        )
    for tool in tools:
        at = tool.created_at
        common = {"time": _ms(at), "secondsFromStart": round((at - start).total_seconds(), 3)}
        call_id = tool.tool_call_id or f"tool-{tool.id}"
        items.append(
            (
                at.timestamp(),
                {
                    "role": "tool_calls",
                    "message": "",
                    **common,
                    "toolCalls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": tool.name,
                                "arguments": json.dumps(tool.arguments or {}),
                            },
                        }
                    ],
                },
            )
        )
        result = tool.result if isinstance(tool.result, str) else json.dumps(tool.result)
        items.append(
            (
                at.timestamp() + 1e-6,
                {
                    "role": "tool_call_result",
                    "toolCallId": call_id,
                    "name": tool.name,
                    "result": result,
                    **common,
                },
            )
        )
    return [message for _, message in sorted(items, key=lambda pair: pair[0])]


def end_of_call_report(
    call: Call, lead: Lead | None, lines: list[Utterance], tools: list[ToolCall]
) -> dict[str, Any]:
    """The end-of-call report, shaped like VAPI's message, plus our analysis under ``phoneagent``.

    ``recordingUrl`` (also ``artifact.recordingUrl``) is the call's recording: ours at
    ``PUBLIC_URL/api/calls/{id}/recording`` (fetched with the API key as a bearer
    token), or the provider's.
    """
    messages = _messages(call, lines, tools)
    # Our own recordings are stereo (caller left, assistant right); fetching one needs the API key.
    stereo = call.recording_url if call.recording_key else None
    transcript = "".join(f"{'User' if u.role == 'user' else 'AI'}: {u.text}\n" for u in lines)
    customer, ours = (
        (call.from_number, call.to_number)
        if call.direction == "inbound"
        else (call.to_number, call.from_number)
    )
    analysis = {
        "summary": call.summary,
        "structuredData": call.structured_data,
        "successEvaluation": call.success_evaluation,
    }
    vapi_call = {
        "id": call.id,
        "type": f"{call.direction}PhoneCall",
        "status": "ended",
        "createdAt": iso(call.created_at),
        "updatedAt": iso(call.updated_at),
        "startedAt": iso(call.started_at),
        "endedAt": iso(call.ended_at),
        "endedReason": ended_reason(call),
        "cost": call.cost,
        "phoneCallProvider": call.provider,
        "phoneCallProviderId": call.provider_call_id,
        "phoneCallTransport": "pstn",
        "customer": {"number": customer},
        "assistantId": call.assistant,
        "metadata": {"leadId": call.lead_id, "campaignId": call.campaign_id},
        "analysis": analysis,
    }
    return envelope(
        "end-of-call-report",
        endedReason=ended_reason(call),
        call=vapi_call,
        customer={"number": customer, "name": lead.name if lead else None},
        phoneNumber={"number": ours},
        assistant={"name": call.assistant},
        startedAt=iso(call.started_at),
        endedAt=iso(call.ended_at),
        durationSeconds=call.duration_seconds,
        cost=call.cost,
        recordingUrl=call.recording_url,
        stereoRecordingUrl=stereo,
        summary=call.summary,
        transcript=transcript,
        messages=messages,
        artifact={
            "messages": messages,
            "transcript": transcript,
            "recordingUrl": call.recording_url,
            "stereoRecordingUrl": stereo,
            "recording": {"stereoUrl": stereo} if stereo else None,
            "messagesOpenAIFormatted": [
                {"role": "user" if u.role == "user" else "assistant", "content": u.text}
                for u in lines
            ],
        },
        analysis=analysis,
        phoneagent={"analysis": call_analysis(call), "lead": lead_brief(lead) if lead else None},
    )


def call_analyzed(call: Call, lead: Lead | None) -> dict[str, Any]:
    """``call.analyzed``: the call with its analysis and the lead as it now stands."""
    return envelope(
        "call.analyzed",
        call=call_summary(call),
        analysis=call_analysis(call),
        lead=lead_brief(lead) if lead else None,
    )


def stage_changed(lead: Lead, change: StageChange) -> dict[str, Any]:
    """``lead.stage_changed``: from where to where, why and by whom."""
    return envelope(
        "lead.stage_changed",
        lead=lead_brief(lead),
        fromStage=change.from_stage,
        toStage=change.to_stage,
        reason=change.reason,
        actor=change.actor,
        callId=change.call_id,
    )


def automation(
    event: str,
    rule_id: str,
    rule_name: str | None,
    trigger: str,
    lead: Lead | None,
    call: Call | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """A rule's webhook action: the rule, its trigger, the lead and the call."""
    return envelope(
        event,
        rule={"id": rule_id, "name": rule_name},
        trigger=trigger,
        event=data,
        lead=lead_brief(lead) if lead else None,
        call=call_summary(call) if call else None,
    )


def campaign_paused(campaign: Campaign) -> dict[str, Any]:
    """``campaign.paused``: a campaign paused itself (circuit breaker), why, and when it resumes."""
    return envelope(
        "campaign.paused",
        campaign={"id": campaign.id, "name": campaign.name, "status": campaign.status},
        reason=campaign.pause_reason,
        resumeAt=iso(campaign.resume_at),
    )
