"""Calls out through a SIP trunk: the dialer's provider ``sip``, with our own machine detection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from loguru import logger

from crm.models import Call
from telephony.dependencies import CallDependencies
from telephony.live import LeaveVoicemail, LiveCalls
from telephony.outbound.providers import DialError, OutboundCall
from telephony.session import CallSession
from telephony.sip.amd import MachineDetector
from telephony.sip.call import SipCall
from telephony.sip.engine import SipEngine
from telephony.sip.events import CallFailed
from telephony.sip.inbound import SipInbound, provider_call_id
from telephony.sip.leg import SipLeg
from telephony.sip.settings import SipTrunk
from telephony.sip.warm import tts

# As long as Twilio lets our calls ring (TwilioOutbound's timeout).
RING_TIMEOUT_SECS = 25.0


def failed_status(code: int) -> str:
    """The call status (Twilio's words, which the dialer's retry rules use) of a failed INVITE."""
    if code in (486, 600):
        return "busy"
    if code in (408, 480, 487):
        return "no-answer"
    return "failed"


class SipOutbound:
    """The dialer's ``sip`` provider (an ``OutboundProvider``): INVITE through the trunk.

    :meth:`place` returns the SIP Call-ID as soon as the INVITE is out; the rest of
    the call runs in the background like a provider's callbacks: the answer, or the
    failure (busy, no-answer, failed), each reported through the call store and the
    status hooks (which settle campaign attempts); an answered call runs in the call
    core like an inbound one, with our own answering-machine detection on its audio
    (a machine gets the assistant's ``voicemailMessage`` once its greeting is over).
    """

    runs_here = True

    def __init__(
        self,
        engine: Callable[[], SipEngine | None],
        deps: Callable[[], CallDependencies | None],
        live: LiveCalls,
        calls: SipInbound,
        *,
        trunk: SipTrunk | None,
        machine_detection: bool = True,
    ):
        """``engine`` and ``deps`` give the running engine and call dependencies (None before)."""
        self._engine = engine
        self._deps = deps
        self._live = live
        self._calls = calls
        self._trunk = trunk
        self._machine_detection = machine_detection

    async def place(self, call: OutboundCall) -> str:
        """INVITE ``call.to`` through the trunk; returns the SIP Call-ID once it is sent.

        Raises:
            DialError: SIP is off, no trunk is configured, every call slot is busy, or
                the number cannot be dialled.
        """
        engine, deps = self._engine(), self._deps()
        if engine is None or deps is None:
            raise DialError("SIP is not running (SIP_ENABLED)")
        if self._trunk is None:
            raise DialError("no SIP trunk is configured (SIP_TRUNK_HOST)")
        if len(engine.calls) >= engine.capacity:
            raise DialError(f"all {engine.capacity} SIP call slots are in use")
        trunk = replace(self._trunk, caller_id=call.from_number or self._trunk.caller_id)
        dialing: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._calls.spawn(self._run(engine, deps, call, trunk, dialing))
        return await dialing

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the SIP carrier."""

    async def _run(
        self,
        engine: SipEngine,
        deps: CallDependencies,
        placed: OutboundCall,
        trunk: SipTrunk,
        dialing: asyncio.Future[str],
    ) -> None:
        def sent(sip_call: SipCall) -> None:
            if not dialing.done():
                dialing.set_result(provider_call_id(sip_call.sip_call_id))

        try:
            sip_call = await engine.place_call(
                placed.to, trunk=trunk, ring_timeout=RING_TIMEOUT_SECS, on_dialing=sent
            )
        except Exception as e:
            if not dialing.done():  # never sent: the dialer hears it as a refusal (and retries:
                # PJSIP's reasons, a URI it refuses or no free slot, cannot tell a bad number)
                dialing.set_exception(DialError(f"SIP: {e}"))
                return
            status = failed_status(e.status_code) if isinstance(e, CallFailed) else "failed"
            logger.info(f"call {placed.call_id}: SIP call not answered ({e}) → {status}")
            await self._status(deps, placed.call_id, dialing.result(), status)
            return
        finally:
            if not dialing.done():  # cancelled (server shutdown) before the INVITE went out
                dialing.set_exception(DialError("SIP: the call was cancelled before it was sent"))
        stored_id = provider_call_id(sip_call.sip_call_id)
        row = await self._status(deps, placed.call_id, stored_id, "in-progress")
        if row is None:
            await sip_call.hangup()
            return
        await self._hold(deps, row, sip_call)
        await self._status(deps, row.id, stored_id, "completed")

    async def _hold(self, deps: CallDependencies, row: Call, sip_call: SipCall) -> None:
        """Run the answered call in the call core until it ends."""
        await deps.calls.stream_started(row.id, sip_call.id)
        entry = deps.assistants.entry(row.assistant)
        if entry.unavailable:
            logger.error(f"call {row.id}: assistant '{row.assistant}' is unavailable; hanging up")
            await sip_call.hangup()
            await deps.calls.finalize(row.id, end_reason="assistant-unavailable")
            return
        logger.info(f"call {row.id}: outbound SIP call {sip_call.id} answered → '{row.assistant}'")
        tap = self._detector(deps, row) if self._machine_detection else None
        leg = SipLeg(
            sip_call, engine=self._engine, trunk=self._trunk, tap=tap, speak=tts(deps.speech)
        )
        await self._live.hold(CallSession(deps, row, entry, leg))

    def _detector(self, deps: CallDependencies, row: Call) -> Callable[[bytes], None]:
        """A tap on the called party's audio that reports who answered (Twilio's async AMD)."""
        detector = MachineDetector()

        def listen(pcm: bytes) -> None:
            verdict = detector.feed(pcm)
            if verdict is not None:
                self._calls.spawn(self._answered_by(deps, row, verdict))

        return listen

    async def _answered_by(self, deps: CallDependencies, row: Call, verdict: str) -> None:
        await deps.calls.provider_status(
            "sip", row.provider_call_id or "", "in-progress", call_id=row.id, answered_by=verdict
        )
        if not verdict.startswith("machine"):
            return
        message = deps.assistants.get(row.assistant).voicemail_message or None
        action = "leaving a message" if message else "hanging up"
        logger.info(f"call {row.id}: answered by a machine ({verdict}); {action}")
        await self._live.deliver(row.id, LeaveVoicemail(message))

    @staticmethod
    async def _status(
        deps: CallDependencies, call_id: str, sip_call_id: str, status: str
    ) -> Call | None:
        """Record a status as a provider callback would, and run the status hooks."""
        row = await deps.calls.provider_status("sip", sip_call_id, status, call_id=call_id)
        if row is None:
            logger.warning(f"call {call_id}: SIP status {status} for a call not in the database")
            return None
        await deps.status_changed(row)
        return row
