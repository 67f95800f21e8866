"""What a SIP call reports to its owner: DTMF, playback marks, hold, transfer outcomes, the end."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EndReason(StrEnum):
    """Why a call ended."""

    REMOTE_BYE = "remote-bye"  # the far end hung up (BYE)
    REMOTE_CANCEL = "remote-cancel"  # the caller gave up before we answered (CANCEL)
    LOCAL_HANGUP = "local-hangup"  # we hung up (BYE, or CANCEL while ringing out)
    TRANSFERRED = "transferred"  # a REFER succeeded and we left the call
    REJECTED = "rejected"  # we (or the far end, outbound) refused the call
    FAILED = "failed"  # signalling or transport failure (timeouts, 5xx, no media)
    SHUTDOWN = "shutdown"  # the engine stopped


@dataclass(frozen=True)
class CallEnded:
    """The end of a call.

    Parameters:
        reason: Why it ended.
        status_code: The SIP status that ended it (200 for a normal BYE, 487 for CANCEL...).
        status_text: Its reason phrase.
    """

    reason: EndReason
    status_code: int = 0
    status_text: str = ""


@dataclass(frozen=True)
class DtmfReceived:
    """A key pressed on the far end.

    Parameters:
        digit: ``0``-``9``, ``*``, ``#``, ``A``-``D``.
        method: ``rfc4733`` (RTP telephone-event) or ``sip-info``.
        duration_ms: How long it was held, when known.
    """

    digit: str
    method: str
    duration_ms: int = 0


@dataclass(frozen=True)
class MarkReached:
    """All audio queued before this mark was handed to RTP (the caller is hearing it now)."""

    name: str


@dataclass(frozen=True)
class HoldChanged:
    """The far end put us on hold (re-INVITE with sendonly/inactive) or took us off it."""

    on_hold: bool


@dataclass(frozen=True)
class TransferProgress:
    """A NOTIFY about a REFER we sent (a provisional, then the final outcome).

    Parameters:
        status_code: The sipfrag status (100 trying, 180 ringing, 200 answered, 486 busy...).
        reason: Its reason phrase.
        final: Whether this is the outcome.
    """

    status_code: int
    reason: str
    final: bool

    @property
    def succeeded(self) -> bool:
        """Whether the target answered (a final 2xx)."""
        return self.final and 200 <= self.status_code < 300


CallEvent = DtmfReceived | MarkReached | HoldChanged | TransferProgress


class CallFailed(Exception):
    """An outbound call (or an accept) did not become a live call."""

    def __init__(self, status_code: int, reason: str):
        """Record the SIP status that ended the attempt."""
        super().__init__(f"{status_code} {reason}")
        self.status_code = status_code
        self.reason = reason
