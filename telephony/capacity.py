"""How many calls this instance holds without degrading them, and whether one more fits."""

from __future__ import annotations

import os

from aiohttp import web
from loguru import logger

from telephony.live import LiveCalls

CALLS_PER_CORE = 2
"""Calls one CPU core carries with our own speech stack (Whisper, Piper, VAD) before the
calls it has degrade (late greetings, gaps in the bot's speech, unanswered lines).

Provisional. On the 2-core development box, shared with other work (load 3-5), callers'
voice-to-voice p50/p95 was ~1.3-1.9 s with 1 call, 1.6-2.0/1.9-2.6 s with 2 at once,
2.9-3.9/4.2-4.9 s with 4, and 5.6-22/17-22 s with 8 (``bench/burst_memory.py``); 12 calls
all degraded (issue 17). Measure it on a quiet production machine (``bench/calls.py`` or
``bench/burst_memory.py`` with rising ``--calls``) and set MAX_CALLS, or change this figure.
"""

# An answered inbound call opens its media stream within a second or two; a call placed out
# rings for up to a minute (Twilio's default timeout is 60 s).
ANSWER_WITHIN_SECS = 15.0
RING_WITHIN_SECS = 75.0


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, e.g. a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_max_calls(cores: int | None = None) -> int:
    """MAX_CALLS when it is not set: :data:`CALLS_PER_CORE` per usable core, at least one."""
    return max(1, CALLS_PER_CORE * (cores or usable_cores()))


class CallCapacity:
    """The one capacity decision every way into a call asks (Twilio, SIP, Talk, the dialer).

    ``max_calls`` calls may be busy at once: in conversation, answered and about to
    stream, or ringing out (see :attr:`telephony.live.LiveCalls.busy`). A call that
    finds no room overflows (``telephony.overflow``); the dialer places no more calls
    than :meth:`free`.
    """

    def __init__(self, live: LiveCalls, max_calls: int):
        """Weigh ``live``'s calls against ``max_calls`` (at least one)."""
        self.live = live
        self.max_calls = max(1, max_calls)
        self.overflowed = 0

    @classmethod
    def for_server(cls, live: LiveCalls, max_calls: int) -> CallCapacity:
        """MAX_CALLS, or :func:`default_max_calls` when it is 0."""
        derived = not max_calls
        capacity = cls(live, max_calls or default_max_calls())
        how = f"{CALLS_PER_CORE} per core x {usable_cores()} cores" if derived else "MAX_CALLS"
        logger.info(f"Capacity: {capacity.max_calls} calls at once ({how})")
        return capacity

    def free(self) -> int:
        """Calls that may start now."""
        return max(0, self.max_calls - self.live.busy)

    def admit(self, call_id: str | None, within: float = ANSWER_WITHIN_SECS) -> bool:
        """Take a line for a new call, or say there is none (the call then overflows).

        The line is the call's from now on (counted as expected until its media starts
        here, at most ``within`` seconds); a call admitted twice (a retried webhook)
        takes one line. With no ``call_id`` (no row opened yet) only the answer is given.
        """
        taken = call_id is not None and (call_id in self.live or self.live.expecting(call_id))
        if not taken and self.free() <= 0:
            self.overflowed += 1
            logger.warning(
                f"call {call_id or '(new)'}: every line is busy ({self.live.busy} of "
                f"{self.max_calls}); the call overflows"
            )
            return False
        if call_id is not None:
            self.live.expect(call_id, within)
        return True

    def ringing(self, call_id: str) -> None:
        """A call we placed is ringing: it holds a line until answered or settled."""
        self.live.expect(call_id, RING_WITHIN_SECS)

    def settled(self, call_id: str) -> None:
        """A call we placed ended without going live here (no answer, busy, failed)."""
        self.live.forget(call_id)

    def report(self) -> dict[str, int]:
        """For ``/healthz``: the limit, what is busy, what is free, calls overflowed."""
        return {
            "maxCalls": self.max_calls,
            "busy": self.live.busy,
            "free": self.free(),
            "overflowed": self.overflowed,
        }


CAPACITY = web.AppKey("call_capacity", CallCapacity)
