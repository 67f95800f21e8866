"""An INVITE waiting for the application's decision: accept (200 OK) or reject."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telephony.sip.call import SipCall
from telephony.sip.events import CallFailed
from telephony.sip.request import InviteRequest

# The engine's side of a decision: answer the call (200), or refuse it with a status and phrase.
Answer = Callable[[SipCall], Awaitable[None]]
Refuse = Callable[[SipCall, int, str, dict[str, str] | None], Awaitable[None]]


class IncomingInvite:
    """A call ringing in (we sent 180 Ringing); the handler answers or refuses it.

    Attributes:
        request: Who is calling whom, and from where.
        call: The call, live once :meth:`accept` returned; its ``ended`` future also
            resolves if the caller gives up first (``EndReason.REMOTE_CANCEL``).
    """

    def __init__(self, call: SipCall, answer: Answer, refuse: Refuse):
        """Created by the engine for each INVITE that passed its policy, with its two outcomes."""
        assert call.request is not None
        self.request: InviteRequest = call.request
        self.call = call
        self._answer = answer
        self._refuse = refuse
        self.decided = False
        self._deadline: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<IncomingInvite {self.call.id} to {self.request.request_user!r}>"

    @property
    def cancelled(self) -> bool:
        """Whether the caller hung up before a decision (CANCEL)."""
        return self.call.is_ended

    async def accept(self) -> SipCall:
        """Answer with 200 OK (PCMU/PCMA); audio flows once the media is up.

        Raises:
            CallFailed: The caller already gave up, or PJSIP could not answer.
        """
        self._decide()
        if self.call.is_ended:
            raise CallFailed(487, "the caller hung up before the answer")
        await self._answer(self.call)
        return self.call

    async def reject(
        self, code: int = 486, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Refuse the call with a final status (403, 404, 486, 503...), a phrase and headers.

        ``headers`` are extra response headers, e.g. ``{"Retry-After": "30"}`` on a 503.
        """
        if not 300 <= code <= 699:
            raise ValueError(f"a rejection needs a final non-2xx status, not {code}")
        self._decide()
        if not self.call.is_ended:
            await self._refuse(self.call, code, reason, headers)

    def _decide(self) -> None:
        if self.decided:
            raise RuntimeError(f"{self.call.id}: the INVITE was already answered or rejected")
        self.decided = True
        if self._deadline is not None:
            self._deadline.cancel()

    def set_deadline(self, secs: float) -> None:
        """Reject with 480 unless decided within ``secs`` (the handler may hand it on)."""
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(secs, lambda: loop.create_task(self.expire(480)))

    async def expire(self, code: int) -> None:
        """Reject unless already decided (too late, or the handler failed)."""
        if not self.decided:
            await self.reject(code)
