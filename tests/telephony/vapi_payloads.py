"""VAPI server messages as VAPI sends them, for the /vapi/events tests.

Sources: https://docs.vapi.ai/server-url/events (message envelope, tool-calls with
``toolCallList`` / ``toolWithToolCallList``, the ``results`` reply, assistant-request,
status-update statuses, end-of-call-report, hang, transcript, conversation-update,
transfer-destination-request) and VAPI's OpenAPI schemas ServerMessage* (field names:
``artifact.messages``, ``artifact.recordingUrl``, ``analysis``, ``endedReason``,
``cost``, ``startedAt``, ``endedAt``; Call object: ``id``, ``type``, ``customer``,
``phoneNumberId``, ``monitor.controlUrl``). Message roles in ``artifact.messages``
(``bot``, ``user``, ``system``, ``tool_calls``, ``tool_call_result``) and their
``time``/``endTime``/``secondsFromStart`` fields are as VAPI documents its transcript
messages.
"""

from __future__ import annotations

import json
from typing import Any

CALL_ID = "7f3c9a1e-5b0d-4f61-9a2b-1c2d3e4f5a6b"
CUSTOMER = "+14155550123"
OUR_NUMBER = "+15555550100"
T = 1_763_900_000_000  # ms since the epoch


def call(call_id: str = CALL_ID, kind: str = "inboundPhoneCall", **extra: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "orgId": "org-1",
        "type": kind,
        "status": "in-progress",
        "phoneNumberId": "pn-1",
        "customer": {"number": CUSTOMER},
        **extra,
    }


def envelope(kind: str, call_id: str = CALL_ID, **fields: Any) -> dict[str, Any]:
    return {
        "message": {
            "type": kind,
            "timestamp": T,
            "call": call(call_id),
            "phoneNumber": {"id": "pn-1", "number": OUR_NUMBER},
            "customer": {"number": CUSTOMER},
            **fields,
        }
    }


def assistant_request(call_id: str = CALL_ID) -> dict[str, Any]:
    body = envelope("assistant-request", call_id)
    body["message"]["call"]["status"] = "ringing"
    return body


def tool_calls(
    name: str, arguments: dict[str, Any], tool_id: str = "call_abc123", call_id: str = CALL_ID
) -> dict[str, Any]:
    """The current shape: items with ``function`` {name, arguments (JSON string)}."""
    item = {
        "id": tool_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return envelope(
        "tool-calls",
        call_id,
        toolCallList=[item],
        toolWithToolCallList=[{"type": "function", "function": {"name": name}, "toolCall": item}],
    )


def tool_calls_flat(
    name: str, parameters: dict[str, Any], tool_id: str = "abc123"
) -> dict[str, Any]:
    """The shape of the events page's example: flat ``name`` and ``parameters``."""
    return envelope(
        "tool-calls", toolCallList=[{"id": tool_id, "name": name, "parameters": parameters}]
    )


def function_call(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The legacy message of assistants configured with ``model.functions``."""
    return envelope("function-call", functionCall={"name": name, "parameters": parameters})


def status_update(status: str, ended_reason: str | None = None) -> dict[str, Any]:
    return envelope(
        "status-update", status=status, **({"endedReason": ended_reason} if ended_reason else {})
    )


LINES = [
    ("bot", "Hi, thanks for calling Sunrise Resorts. How can I help?"),
    ("user", "Hi, how much does a two bedroom villa cost? I am very interested."),
    ("bot", "It starts at 300 thousand dollars. Would you like to visit?"),
    ("user", "Yes please, book me a visit next Tuesday. That sounds great."),
]


def messages(lines: list[tuple[str, str]] = LINES) -> list[dict[str, Any]]:
    items = [
        {
            "role": "system",
            "message": "You are a helpful assistant.",
            "time": T,
            "secondsFromStart": 0,
        }
    ]
    for i, (role, text) in enumerate(lines):
        items.append(
            {
                "role": role,
                "message": text,
                "time": T + i * 4000,
                "endTime": T + i * 4000 + 3000,
                "secondsFromStart": i * 4,
                "duration": 3000,
            }
        )
    return items


def conversation_update(lines: list[tuple[str, str]]) -> dict[str, Any]:
    return envelope(
        "conversation-update",
        messages=messages(lines),
        messagesOpenAIFormatted=[
            {"role": "assistant" if r == "bot" else "user", "content": t} for r, t in lines
        ],
    )


def end_of_call_report(
    call_id: str = CALL_ID,
    reason: str = "customer-ended-call",
    lines: list[tuple[str, str]] = LINES,
) -> dict[str, Any]:
    items = messages(lines)
    items.append(
        {
            "role": "tool_calls",
            "time": T + 20_000,
            "secondsFromStart": 20,
            "toolCalls": [
                {
                    "id": "call_end1",
                    "type": "function",
                    "function": {"name": "endCall", "arguments": "{}"},
                }
            ],
        }
    )
    transcript = "".join(f"{'AI' if r == 'bot' else 'User'}: {t}\n" for r, t in lines)
    return envelope(
        "end-of-call-report",
        call_id,
        endedReason=reason,
        cost=0.1234,
        startedAt="2025-11-23T12:13:20.000Z",
        endedAt="2025-11-23T12:13:42.500Z",
        durationSeconds=22.5,
        artifact={
            "messages": items,
            "transcript": transcript,
            "recordingUrl": "https://storage.vapi.ai/7f3c-mono.wav",
        },
        analysis={
            "summary": "The caller asked about villa prices and booked a visit.",
            "successEvaluation": "true",
        },
    )


def transfer_destination_request() -> dict[str, Any]:
    return envelope("transfer-destination-request")


def hang() -> dict[str, Any]:
    return envelope("hang")


def transcript(role: str, text: str, kind: str = "final") -> dict[str, Any]:
    return envelope("transcript", role=role, transcriptType=kind, transcript=text)
