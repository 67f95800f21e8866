"""The shape of VAPI's server messages, checked at the edge: each field we read has its type.

Only the fields this server reads are declared (VAPI adds fields often; the rest pass
through untouched). A message whose declared field has the wrong type (a number where a
string belongs, a list where an object belongs, a time outside 1900..2999) is refused
with 400 before anything is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _plausible_time(value: str | float | None) -> str | float | None:
    """An ISO 8601 string or milliseconds since the epoch, between 1900 and 2999."""
    if value is None or value == "":
        return value
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
        else:
            parsed = datetime.fromtimestamp(value / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError("not a time (ISO 8601, or milliseconds since the epoch)") from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(f"times are between {EARLIEST.year} and {LATEST.year}")
    return value


Time = Annotated[str | float | None, AfterValidator(_plausible_time)]
Arguments = str | dict[str, Any] | None


class Lenient(BaseModel):
    """Declared fields typed; undeclared ones kept as sent; numbers finite."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class Party(Lenient):
    """A ``customer`` or ``phoneNumber``."""

    number: str | None = None


class CallObject(Lenient):
    """VAPI's Call object, as far as we read it."""

    id: str | None = None
    type: str | None = None
    assistantId: str | None = None
    metadata: dict[str, Any] | None = None
    monitor: dict[str, Any] | None = None
    customer: Party | None = None
    phoneNumber: Party | None = None
    assistant: dict[str, Any] | None = None


class ToolFunction(Lenient):
    """A tool call's ``function``."""

    name: str | None = None
    arguments: Arguments = None


class ToolCallItem(Lenient):
    """One tool call (``toolCallList`` item, or a report message's ``toolCalls`` item)."""

    id: str | None = None
    name: str | None = None
    function: ToolFunction | None = None
    parameters: Arguments = None
    arguments: Arguments = None


class ConversationItem(Lenient):
    """One message of a conversation or report (VAPI's or the OpenAI format)."""

    role: str | None = None
    message: str | None = None
    content: str | list[Any] | None = None
    time: Time = None
    endTime: Time = None
    toolCalls: list[ToolCallItem] | None = None
    toolCallId: str | None = None


class Artifact(Lenient):
    """A report's ``artifact``."""

    messages: list[ConversationItem] | None = None
    recording: dict[str, Any] | None = None
    recordingUrl: str | None = None
    stereoRecordingUrl: str | None = None
    transcript: str | None = None


class ServerMessage(Lenient):
    """A server message: ``type`` and, per type, the fields our handlers read."""

    type: str = Field(min_length=1, max_length=100)
    call: CallObject | None = None
    customer: Party | None = None
    phoneNumber: Party | None = None
    assistant: dict[str, Any] | None = None
    artifact: Artifact | None = None
    status: str | None = None
    endedReason: str | None = None
    startedAt: Time = None
    endedAt: Time = None
    durationSeconds: float | None = None
    cost: float | None = None
    analysis: dict[str, Any] | None = None
    summary: str | None = None
    recordingUrl: str | None = None
    toolCallList: list[ToolCallItem] | None = None
    toolWithToolCallList: list[dict[str, Any]] | None = None
    functionCall: dict[str, Any] | None = None
    messages: list[ConversationItem] | None = None
    transcript: str | None = None
    transcriptType: str | None = None
    role: str | None = None


class Envelope(Lenient):
    """A request body: ``{"message": {...}}``."""

    message: ServerMessage
