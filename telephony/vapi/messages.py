"""Reading VAPI's server messages: which call, which numbers, what was said, how it ended.

Shapes follow VAPI's server-URL events (https://docs.vapi.ai/server-url/events) and
its Call object; fields moved over time (``artifact.messages`` vs top-level
``messages``, ``toolCallList`` items with ``function`` or flat ``name``/``parameters``),
so each reader accepts both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm.calls import NewUtterance
from crm.phone_numbers import maybe_e164

# VAPI's endedReason → ours (crm.webhooks.payloads maps ours back when we send reports).
END_REASONS = {
    "customer-ended-call": "caller-hangup",
    "assistant-ended-call": "assistant-hangup",
    "assistant-said-end-call-phrase": "assistant-hangup",
    "silence-timed-out": "idle-timeout",
    "exceeded-max-duration": "max-duration",
    "assistant-forwarded-call": "transferred",
    "customer-did-not-answer": "provider-no-answer",
    "customer-busy": "provider-busy",
    "manually-canceled": "provider-canceled",
}
NOT_ANSWERED = {
    "customer-did-not-answer": "no-answer",
    "customer-busy": "busy",
    "manually-canceled": "canceled",
}
# VAPI call statuses in the words our call rows use (Twilio's).
STATUSES = {
    "scheduled": "queued",
    "queued": "queued",
    "ringing": "ringing",
    "in-progress": "in-progress",
    "forwarding": "in-progress",
    "ended": "completed",
}


class BadMessage(ValueError):
    """A body that is not a VAPI server message (answered 400, nothing stored)."""


def message_of(body: Any) -> dict[str, Any]:
    """The ``message`` of a request body.

    Raises:
        BadMessage: Not ``{"message": {"type": "...", ...}}``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise BadMessage('expected a JSON object {"message": {"type": ...}}')
    message = body["message"]
    if not isinstance(message.get("type"), str) or not message["type"]:
        raise BadMessage("message.type is missing")
    for key in ("call", "customer", "phoneNumber", "assistant", "artifact"):
        if message.get(key) is not None and not isinstance(message[key], dict):
            raise BadMessage(f"message.{key} must be an object")
    return message


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class CallRef:
    """Who a message is about: VAPI's call id, ours (outbound calls carry it), the numbers."""

    vapi_id: str | None
    our_id: str | None
    direction: str
    customer: str | None
    our_number: str | None
    assistant_id: str | None
    assistant_name: str | None
    control_url: str | None


def call_ref(message: dict[str, Any]) -> CallRef:
    """The call a message belongs to."""
    call = _dict(message.get("call"))
    metadata = _dict(call.get("metadata"))
    assistant = _dict(message.get("assistant")) or _dict(call.get("assistant"))
    ours = _dict(_dict(assistant.get("metadata")).get("phoneagent"))
    customer = _dict(message.get("customer")) or _dict(call.get("customer"))
    number = _dict(message.get("phoneNumber")) or _dict(call.get("phoneNumber"))
    kind = str(call.get("type") or "")
    return CallRef(
        vapi_id=str(call["id"]) if call.get("id") else None,
        our_id=str(metadata["phoneagentCallId"]) if metadata.get("phoneagentCallId") else None,
        direction="outbound" if kind.startswith("outbound") else "inbound",
        customer=maybe_e164(customer.get("number")),
        our_number=maybe_e164(number.get("number")),
        assistant_id=call.get("assistantId") or assistant.get("id"),
        assistant_name=ours.get("assistant") or metadata.get("phoneagentAssistant"),
        control_url=_dict(call.get("monitor")).get("controlUrl"),
    )


@dataclass(frozen=True)
class ToolRequest:
    """One tool call VAPI asks us to run."""

    id: str
    name: str
    arguments: dict[str, Any]


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except json.JSONDecodeError:
            raise BadMessage("a tool call's arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise BadMessage("a tool call's arguments must be a JSON object")
    return value


def tool_requests(message: dict[str, Any]) -> list[ToolRequest]:
    """The tool calls of a ``tool-calls`` message (``toolCallList``, else ``toolWithToolCallList``).

    Raises:
        BadMessage: No list, or an item without an id or a name.
    """
    items = message.get("toolCallList")
    if not isinstance(items, list):
        items = [
            _dict(t.get("toolCall")) | {"name": t.get("name")}
            for t in message.get("toolWithToolCallList") or []
            if isinstance(t, dict)
        ]
    if not items:
        raise BadMessage("tool-calls without toolCallList")
    requests = []
    for item in items:
        item = _dict(item)
        function = _dict(item.get("function"))
        name = function.get("name") or item.get("name")
        if not item.get("id") or not name:
            raise BadMessage("each tool call needs an id and a function name")
        raw = (
            function["arguments"]
            if "arguments" in function
            else item.get("parameters", item.get("arguments", {}))
        )
        requests.append(ToolRequest(str(item["id"]), str(name), _arguments(raw)))
    return requests


def legacy_function_call(message: dict[str, Any]) -> ToolRequest:
    """The call of a legacy ``function-call`` message.

    Raises:
        BadMessage: No ``functionCall`` with a name.
    """
    call = _dict(message.get("functionCall"))
    if not call.get("name"):
        raise BadMessage("function-call without functionCall.name")
    return ToolRequest(
        str(call.get("id") or "function-call"),
        str(call["name"]),
        _arguments(call.get("parameters", {})),
    )


def when(value: Any) -> datetime | None:
    """A VAPI time (ISO-8601 string, or milliseconds since the epoch) as an aware datetime."""
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def conversation(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's messages: ``artifact.messages``, else ``messages`` (older reports)."""
    artifact = _dict(message.get("artifact"))
    items = artifact.get("messages")
    if not isinstance(items, list):
        items = message.get("messages")
    return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []


def transcript_lines(messages: list[dict[str, Any]]) -> list[NewUtterance]:
    """What the caller and the assistant said, in order (no system prompts, no tool traffic)."""
    lines = []
    for item in messages:
        role = {"user": "user", "bot": "assistant", "assistant": "assistant"}.get(
            str(item.get("role"))
        )
        text = item.get("message") if isinstance(item.get("message"), str) else item.get("content")
        if role is None or not isinstance(text, str) or not text.strip():
            continue
        start = when(item.get("time"))
        end = when(item.get("endTime")) or start
        lines.append(NewUtterance(role, text.strip(), start, end))
    return lines


@dataclass(frozen=True)
class ReportedTool:
    """A tool call found in a report's messages, with its result."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: Any
    at: datetime | None


def reported_tools(messages: list[dict[str, Any]]) -> list[ReportedTool]:
    """The tool calls in a report (VAPI's own ``endCall``/``transferCall`` included)."""
    results = {
        str(m.get("toolCallId")): m.get("result")
        for m in messages
        if m.get("role") == "tool_call_result"
    }
    found = []
    for item in messages:
        if item.get("role") != "tool_calls":
            continue
        for call in item.get("toolCalls") or []:
            function = _dict(_dict(call).get("function"))
            if not call.get("id") or not function.get("name"):
                continue
            try:
                arguments = _arguments(function.get("arguments", {}))
            except BadMessage:
                arguments = {"raw": str(function.get("arguments"))[:1000]}
            found.append(
                ReportedTool(
                    str(call["id"]),
                    str(function["name"]),
                    arguments,
                    results.get(str(call["id"])),
                    when(item.get("time")),
                )
            )
    return found


def ended(reason: str | None, answered: bool) -> tuple[str, str]:
    """Our call status and end reason for VAPI's ``endedReason``."""
    reason = (reason or "unknown").strip()
    if reason in NOT_ANSWERED and not answered:
        status = NOT_ANSWERED[reason]
    elif not answered and ("error" in reason or "failed" in reason):
        status = "failed"
    else:
        status = "completed"
    return status, END_REASONS.get(reason, reason)[:48]
