"""SIP calls coming in: route the INVITE to an assistant, open the call, answer, run it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from loguru import logger

from agent.assistant_files import AssistantBook
from crm.calls import NewCall
from crm.phone_numbers import maybe_e164
from telephony.capacity import CallCapacity
from telephony.dependencies import CallDependencies
from telephony.live import LiveCalls
from telephony.opening import open_call
from telephony.overflow import END_REASONS
from telephony.session import CallSession
from telephony.sip.engine import SipEngine
from telephony.sip.events import CallFailed
from telephony.sip.invite import IncomingInvite
from telephony.sip.leg import SipLeg
from telephony.sip.request import InviteRequest
from telephony.sip.settings import SipTrunk
from telephony.sip.warm import tts

# While the server starts (models loading), callers are asked to try again this much later.
STARTING_RETRY_AFTER_SECS = 10


def provider_call_id(sip_call_id: str) -> str:
    """The SIP Call-ID as we store it (the column holds 64 characters; longer ones are hashed)."""
    if len(sip_call_id) <= 64:
        return sip_call_id
    return "sha256:" + hashlib.sha256(sip_call_id.encode()).hexdigest()[:48]


def called_user(request: InviteRequest, book: AssistantBook) -> str:
    """Which of our numbers was called: the request-URI user or the To user, as Twilio's ``To``.

    Trunks put the dialled number in the request-URI, PBXs sometimes only in To;
    the first that an assistant's ``phoneNumbers`` claims wins, else the request-URI
    user (which routes to the default assistant).
    """
    candidates = [u for u in (request.request_user, request.to_user) if u]
    for user in candidates:
        number = maybe_e164(user)
        if number and any(number in e.assistant.phone_numbers for e in book.assistants.values()):
            return user
    return candidates[0] if candidates else ""


class SipInbound:
    """The SIP engine's INVITE handler: each call runs in the call core like a Twilio call.

    Every accepted call runs as its own task (its :class:`CallSession`, held in
    :class:`LiveCalls`): a call that fails is finalized and logged, and no other
    call notices.
    """

    def __init__(
        self,
        deps: Callable[[], CallDependencies | None],
        live: LiveCalls,
        engine: Callable[[], SipEngine | None],
        *,
        trunk: SipTrunk | None,
        transfer_timeout: float,
        capacity: CallCapacity | None = None,
        busy_retry_after: int = 10,
    ):
        """``deps`` and ``engine``: the call dependencies and the engine, once ready (else None).

        ``capacity``: the server's one capacity decision; a call it has no line for gets
        503 with ``Retry-After: busy_retry_after`` (a trunk or PBX then tries another
        server, or later), and its row ends as ``overflow-busy``.
        """
        self._deps = deps
        self._capacity = capacity
        self._busy_retry_after = busy_retry_after
        self._engine = engine
        self._live = live
        self._trunk = trunk
        self._transfer_timeout = transfer_timeout
        self._tasks: set[asyncio.Task] = set()

    async def on_invite(self, invite: IncomingInvite) -> None:
        """Route, open the call row, answer (or refuse), and start the call's session."""
        deps = self._deps()
        if deps is None:
            logger.info(f"{invite.call.id}: refused an INVITE while the server starts (503)")
            retry = {"Retry-After": str(STARTING_RETRY_AFTER_SECS)}
            return await invite.reject(503, "Starting", retry)
        request = invite.request
        ours = called_user(request, deps.assistants.book)
        call, entry = await open_call(
            deps,
            NewCall(
                provider="sip",
                provider_call_id=provider_call_id(request.call_id or invite.call.id),
                direction="inbound",
                from_number=request.from_user[:32] or None,  # a number, or a SIP user
                to_number=ours[:32] or None,
                extra={"sip": {"source": f"{request.source_ip}:{request.source_port}"}},
            ),
        )
        if entry.unavailable:
            # A PBX plays its own "unavailable" in the caller's language on a 480.
            logger.error(
                f"call {call.id}: assistant '{entry.assistant.name}' is unavailable; "
                "refusing the SIP call (480)"
            )
            await invite.reject(480, "Assistant Unavailable")
            return await deps.calls.finalize(call.id, end_reason="assistant-unavailable")
        if self._capacity is not None and not self._capacity.admit(call.id):
            retry = {"Retry-After": str(self._busy_retry_after)}
            await invite.reject(503, "Call Limit Reached", retry)
            return await deps.calls.overflowed(call.id, END_REASONS["busy"], status="busy")
        try:
            sip_call = await invite.accept()
        except CallFailed as e:
            logger.info(f"call {call.id}: the caller hung up before the answer ({e})")
            if self._capacity is not None:
                self._capacity.settled(call.id)
            await deps.calls.provider_status(
                "sip", call.provider_call_id, "canceled", call_id=call.id
            )
            return await deps.calls.finalize(call.id, end_reason="caller-hangup")
        logger.info(
            f"call {call.id}: inbound SIP call {sip_call.id} → assistant '{call.assistant}'"
        )
        await deps.calls.stream_started(call.id, sip_call.id)
        leg = SipLeg(
            sip_call,
            engine=self._engine,
            trunk=self._trunk,
            transfer_timeout=self._transfer_timeout,
            speak=tts(deps.speech),
        )
        self.spawn(self._live.hold(CallSession(deps, call, entry, leg)))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run one call's work as its own task (kept until it ends)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel what is left (calls still ringing out) once the live calls were ended."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
