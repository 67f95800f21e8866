"""Writing VAPI's reports into our call rows: live transcripts, the end-of-call report (once)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, func, select, update

from crm.calls import NewUtterance, plausible_duration
from crm.db import Database
from crm.models import Call, ToolCall, Utterance, utcnow
from telephony.vapi.messages import conversation, ended, reported_tools, transcript_lines, when


def _replace_lines(session: Any, call_id: str, lines: list[NewUtterance]) -> None:
    for seq, line in enumerate(lines, start=1):
        session.add(Utterance(call_id=call_id, seq=seq, **asdict(line)))


async def sync_transcript(db: Database, call_id: str, messages: list[dict[str, Any]]) -> int:
    """Replace a live call's transcript with VAPI's conversation so far (``conversation-update``).

    Ignored once the end-of-call report is stored, and when it holds fewer lines than
    we have (an older update arriving late). Returns the number of lines kept.
    """
    lines = transcript_lines(messages)
    async with db.session() as session:
        call = await session.get(Call, call_id)
        if call is None or call.provider_report_at is not None:
            return 0
        have = await session.scalar(select(func.count()).where(Utterance.call_id == call_id)) or 0
        if len(lines) < have:
            return have
        await session.execute(delete(Utterance).where(Utterance.call_id == call_id))
        await session.flush()
        _replace_lines(session, call_id, lines)
    return len(lines)


def _recording_url(message: dict[str, Any]) -> str | None:
    artifact = message.get("artifact") if isinstance(message.get("artifact"), dict) else {}
    recording = artifact.get("recording") if isinstance(artifact.get("recording"), dict) else {}
    mono = recording.get("mono") if isinstance(recording.get("mono"), dict) else {}
    for value in (
        artifact.get("recordingUrl"),
        mono.get("combinedUrl"),
        recording.get("stereoUrl"),
        artifact.get("stereoRecordingUrl"),
        message.get("recordingUrl"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _number(value: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _vapi_analysis(message: dict[str, Any]) -> dict[str, Any]:
    analysis = message.get("analysis") if isinstance(message.get("analysis"), dict) else {}
    summary = analysis.get("summary") or message.get("summary")
    return {
        k: v
        for k, v in {
            "summary": summary,
            "structuredData": analysis.get("structuredData"),
            "successEvaluation": analysis.get("successEvaluation"),
        }.items()
        if v is not None
    }


async def store_report(db: Database, call_id: str, message: dict[str, Any]) -> bool:
    """Store an end-of-call report on the call, queue its analysis; False if it was stored before.

    One transaction, opened by a conditional update of ``provider_report_at``: of two
    copies of the same report (VAPI retries), only the first writes anything.
    """
    now = utcnow()
    messages = conversation(message)
    lines = transcript_lines(messages)
    async with db.session() as session:
        claimed = await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.provider_report_at.is_(None))
            .values(provider_report_at=now)
        )
        if claimed.rowcount != 1:
            return False
        call = await session.get(Call, call_id)
        started = when(message.get("startedAt")) or call.started_at
        ended_at = when(message.get("endedAt")) or call.ended_at or now
        answered = bool(lines and any(line.role == "user" for line in lines)) or (
            started is not None
            and message.get("endedReason") not in ("customer-did-not-answer", "customer-busy")
        )
        status, reason = ended(message.get("endedReason"), answered)
        await session.execute(delete(Utterance).where(Utterance.call_id == call_id))
        await session.flush()
        _replace_lines(session, call_id, lines)
        known = set(
            await session.scalars(select(ToolCall.tool_call_id).where(ToolCall.call_id == call_id))
        )
        for tool in reported_tools(messages):
            if tool.id not in known:
                session.add(
                    ToolCall(
                        call_id=call_id,
                        tool_call_id=tool.id,
                        name=tool.name[:64],
                        arguments=tool.arguments,
                        result=tool.result,
                        ok=True,
                        created_at=tool.at or now,
                    )
                )
        vapi = _vapi_analysis(message)
        call.status = status  # the report has the last word on how the call went
        call.started_at = started if answered else call.started_at
        call.answered_at = call.answered_at or (started if answered else None)
        call.ended_at = ended_at
        call.end_reason = reason
        duration = plausible_duration(_number(message.get("durationSeconds")))
        if duration is None and answered and started:
            duration = max(0.0, (ended_at - started).total_seconds())
        call.duration_seconds = duration if duration is not None else call.duration_seconds
        if message.get("endedReason") == "voicemail":
            call.answered_by = "machine"
        call.recording_url = _recording_url(message) or call.recording_url
        cost = _number(message.get("cost"))
        call.cost = cost if cost is not None else call.cost
        call.summary = call.summary or vapi.get("summary")
        call.extra = {
            **(call.extra or {}),
            "vapi": {
                **(call.extra or {}).get("vapi", {}),
                "endedReason": message.get("endedReason"),
                "analysis": vapi,
            },
        }
        # The report carries the whole transcript: analyse now (again, if a status update
        # queued it early).
        call.analysis_status, call.analysis_next_at = "pending", now
        call.analysis_attempts, call.analysis_error = 0, None
    return True
