"""What the analysis reads: the call's facts and its transcript, detached from the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from crm.models import Call, ToolCall, Utterance

CALLER_ROLES = frozenset({"user", "caller", "customer"})
NOT_CONNECTED = frozenset({"no-answer", "busy", "failed", "canceled"})


@dataclass(frozen=True)
class Line:
    """One transcript line."""

    seq: int
    role: str
    text: str
    started_at: datetime | None = None

    @property
    def is_caller(self) -> bool:
        """Whether the caller (not the assistant) said it."""
        return self.role in CALLER_ROLES


@dataclass(frozen=True)
class CallFacts:
    """What is known about a call besides its words.

    Parameters:
        call_id: Our call id.
        direction: inbound or outbound.
        status: The provider's final status (completed, no-answer, busy...).
        answered: Whether media flowed (someone or something picked up).
        answered_by: Answering-machine detection result (human, machine_*, fax, unknown).
        duration_seconds: How long the call lasted.
        end_reason: Why it ended (caller-hangup, provider-no-answer...).
        transfer_target: Where the call was transferred, if it was.
        language: The lead's language, if known (en, es...).
        tool_calls: Names of the tools the assistant called successfully.
    """

    call_id: str
    direction: str = "inbound"
    status: str = "completed"
    answered: bool = True
    answered_by: str | None = None
    duration_seconds: float | None = None
    end_reason: str | None = None
    transfer_target: str | None = None
    language: str | None = None
    tool_calls: tuple[str, ...] = ()

    @property
    def voicemail(self) -> bool:
        """Whether a machine (or fax) answered."""
        by = (self.answered_by or "").lower()
        return by.startswith("machine") or by == "fax"

    @property
    def never_connected(self) -> bool:
        """Whether nobody picked up (no-answer, busy, failed, canceled)."""
        return self.status in NOT_CONNECTED or not self.answered

    @classmethod
    def of(
        cls, call: Call, tool_calls: Iterable[ToolCall] = (), language: str | None = None
    ) -> CallFacts:
        """The facts of a stored call."""
        return cls(
            call_id=call.id,
            direction=call.direction,
            status=call.status,
            answered=call.answered_at is not None,
            answered_by=call.answered_by,
            duration_seconds=call.duration_seconds,
            end_reason=call.end_reason,
            transfer_target=call.transfer_target,
            language=language,
            tool_calls=tuple(t.name for t in tool_calls if t.ok),
        )


@dataclass(frozen=True)
class Transcript:
    """A call's lines in order."""

    lines: tuple[Line, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, utterances: Iterable[Utterance]) -> Transcript:
        """The transcript of stored utterances."""
        return cls(tuple(Line(u.seq, u.role, u.text, u.started_at) for u in utterances))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Transcript:
        """A transcript from ``(role, text)`` pairs (tests, benchmarks)."""
        return cls(tuple(Line(i, role, text) for i, (role, text) in enumerate(pairs, start=1)))

    @property
    def caller_lines(self) -> list[Line]:
        """What the caller said."""
        return [line for line in self.lines if line.is_caller]

    def render(self, caller: str = "Caller", assistant: str = "Assistant") -> str:
        """The transcript as ``[seq] Caller: text`` lines."""
        return "\n".join(
            f"[{line.seq}] {caller if line.is_caller else assistant}: {line.text}"
            for line in self.lines
        )
