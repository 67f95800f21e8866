"""The SIP engine's asyncio face: start and stop, calls coming in, calls going out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger

from telephony.sip.audio_port import PortSink
from telephony.sip.call import SipCall, dtmf_event
from telephony.sip.events import CallEnded, CallEvent, CallFailed, EndReason
from telephony.sip.invite import IncomingInvite
from telephony.sip.mailbox import LoopMailbox
from telephony.sip.pjcore import PjCore, gate_for
from telephony.sip.pjthread import PjThread
from telephony.sip.request import InviteRequest
from telephony.sip.settings import InboundPolicy, SipSettings, SipTrunk

InviteHandler = Callable[[IncomingInvite], Awaitable[None]]


class _Control:
    """A call's actions, each run on the PJSIP thread against the call if it still exists."""

    def __init__(self, engine: SipEngine, key: str):
        self._engine = engine
        self._key = key

    async def _on_call(self, action: Callable) -> None:
        core = self._engine._core
        assert core is not None

        def run() -> None:
            call = core.find(self._key)
            if call is None or call.done:
                raise CallFailed(481, "call does not exist")
            action(call)

        await self._engine._pj.run(run)

    async def hangup(self, code: int) -> None:
        await self._on_call(lambda call: call.end(code))

    async def send_dtmf(self, digits: str) -> None:
        await self._on_call(lambda call: call.send_digits(digits))

    async def transfer(self, uri: str) -> None:
        await self._on_call(lambda call: call.refer(uri))


class SipEngine:
    """A SIP user agent (PJSIP) serving many calls at once for one asyncio application.

    Signalling and RTP run on PJSIP's threads and one thread of ours (see
    :mod:`telephony.sip.pjthread`); the loop only receives batched reports and sends
    commands. One engine per process: PJSIP's library is a process-wide singleton.

    Each INVITE that passes the :class:`InboundPolicy` rings (180) and is handed to
    ``on_invite`` as an :class:`IncomingInvite`; the handler accepts or rejects it
    within ``settings.invite_decision_secs`` (else 480; 500 if it raises first),
    possibly from another task, and owns the call after: the engine never hangs up
    a call its handler returned from.
    """

    _running = False

    def __init__(self, settings: SipSettings, on_invite: InviteHandler | None = None):
        """Configure; nothing listens until :meth:`start`."""
        self.settings = settings
        self.on_invite = on_invite
        self._pj = PjThread()
        self._core: PjCore | None = None
        self._calls: dict[str, SipCall] = {}
        self._answered: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task] = set()

    # Lifecycle

    async def start(self) -> None:
        """Start PJSIP and listen.

        Raises:
            RuntimeError: Another engine runs in this process.
            pjsua2.Error: PJSIP could not start (e.g. the port is taken).
        """
        if SipEngine._running:
            raise RuntimeError("one SIP engine per process: PJSIP is a process-wide library")
        SipEngine._running = True
        mailbox = LoopMailbox(asyncio.get_running_loop())
        self._core = PjCore(self.settings, self._pj, mailbox, self)
        try:
            await asyncio.to_thread(self._pj.start, self._core.start, self._core.poll)
        except BaseException:
            SipEngine._running = False
            raise

    async def stop(self) -> None:
        """Hang up every call and stop PJSIP (its ended events are delivered first)."""
        if self._core is None:
            return
        try:
            await asyncio.to_thread(self._pj.stop, self._core.shutdown)
        finally:
            await asyncio.sleep(0)  # let the last batch of reports run
            for call in list(self._calls.values()):
                call.deliver_end(CallEnded(EndReason.SHUTDOWN))
            self._calls.clear()
            for task in list(self._tasks):
                task.cancel()
            SipEngine._running = False
            self._core = None

    def address(self, transport: str = "udp") -> tuple[str, int]:
        """Where a transport listens (host, port)."""
        assert self._core is not None, "the engine is not started"
        return self._core.bound[transport]

    @property
    def capacity(self) -> int:
        """Calls the engine can hold at once: the setting, or less if PJSIP's build caps it."""
        assert self._core is not None, "the engine is not started"
        return self._core.capacity

    @property
    def refused_full(self) -> int:
        """INVITEs refused with 503 because every call slot was taken."""
        return self._core.refused_full if self._core is not None else 0

    @property
    def policy(self) -> InboundPolicy:
        """Who may call in; may be replaced while running (applies to the next INVITE)."""
        assert self._core is not None
        return self._core.gate.policy

    @policy.setter
    def policy(self, policy: InboundPolicy) -> None:
        assert self._core is not None
        self._core.gate = gate_for(policy)

    @property
    def calls(self) -> list[SipCall]:
        """Calls ringing or live."""
        return list(self._calls.values())

    # Outbound

    async def place_call(
        self,
        to: str,
        *,
        trunk: SipTrunk | None = None,
        headers: dict[str, str] | None = None,
        ring_timeout: float | None = None,
        on_dialing: Callable[[SipCall], None] | None = None,
    ) -> SipCall:
        """Call ``to`` (a number through ``trunk``, or a SIP URI) and wait for the answer.

        Digest challenges (401/407) are answered with the trunk's credentials.
        Cancelling the wait, or no answer within ``ring_timeout``, sends CANCEL.
        ``on_dialing`` gets the call once the INVITE is out (its ``sip_call_id`` set),
        for a caller that must name the call before it is answered.

        Raises:
            CallFailed: Busy, declined, not found, no answer... (the SIP status).
            ValueError: A number without a trunk, or a URI PJSIP cannot dial.
        """
        assert self._core is not None, "the engine is not started"
        uri = dial_uri(to, trunk)
        key = self._core.next_key()
        call = SipCall(key, "outbound", _Control(self, key), remote_uri=uri)
        answered = asyncio.get_running_loop().create_future()
        self._calls[key], self._answered[key] = call, answered
        sink = self._sink(call)
        core = self._core

        def place() -> str:
            pj_call = core.place(key, uri, trunk, headers or {})
            pj_call.sink = sink
            return pj_call.getInfo().callIdString

        try:
            call.sip_call_id = await self._pj.run(place)
            if on_dialing is not None:
                on_dialing(call)
            await asyncio.wait_for(
                asyncio.shield(answered), ring_timeout or self.settings.ring_timeout_secs
            )
        except TimeoutError:
            await call.hangup()
            raise CallFailed(408, "no answer") from None
        except asyncio.CancelledError:
            await asyncio.shield(call.hangup())
            raise
        except Exception:
            self._calls.pop(key, None)
            raise
        finally:
            answered = self._answered.pop(key, None)
            if answered is not None and answered.done() and not answered.cancelled():
                answered.exception()  # retrieved: the failure was reported another way
        return call

    async def bridge(self, a: SipCall, b: SipCall) -> None:
        """Connect two live calls' audio both ways on PJSIP's bridge (a warm transfer's end).

        Each call keeps its own audio too: what is queued on it is still sent to it
        alone (a whisper), and what it hears still arrives through ``audio()``, so
        the server can go on listening. The connection goes when either call ends.

        Raises:
            CallFailed: One of the calls is over (481) or has no audio yet.
        """
        core = self._core
        assert core is not None, "the engine is not started"

        def connect() -> None:
            calls = [core.find(a.id), core.find(b.id)]
            if any(call is None or call.done for call in calls):
                raise CallFailed(481, "call does not exist")
            try:
                first, second = (call.audio_media() for call in calls)  # type: ignore[union-attr]
            except ValueError as e:
                raise CallFailed(488, str(e)) from None
            first.startTransmit(second)
            second.startTransmit(first)

        await self._pj.run(connect)

    # Inbound (loop side)

    async def _answer(self, call: SipCall) -> None:
        core, sink = self._core, self._sink(call)
        assert core is not None

        def answer() -> None:
            pj_call = core.find(call.id)
            if pj_call is None or pj_call.done:
                raise CallFailed(487, "the caller hung up before the answer")
            pj_call.sink = sink
            pj_call.respond(200)

        await self._pj.run(answer)

    async def _refuse(
        self, call: SipCall, code: int, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        core = self._core
        assert core is not None

        def refuse() -> None:
            pj_call = core.find(call.id)
            if pj_call is not None and not pj_call.done:
                pj_call.respond(code, headers, reason=reason)

        await self._pj.run(refuse)

    def _sink(self, call: SipCall) -> PortSink:
        assert self._core is not None
        mailbox = self._core.mailbox
        return PortSink(
            outgoing=call.outgoing,
            on_frame=lambda pcm: mailbox.post(call.deliver_frame, pcm),
            on_marks=lambda names: mailbox.post(call.deliver_marks, names),
        )

    async def _decide(self, invite: IncomingInvite) -> None:
        invite.set_deadline(self.settings.invite_decision_secs)
        try:
            if self.on_invite is None:
                await invite.reject(480)
            else:
                await self.on_invite(invite)
        except Exception as e:
            logger.exception(f"{invite.call.id}: INVITE handler failed: {e}")
            await invite.expire(500)

    # CoreListener: reports from PJSIP, run on the loop

    def offered(self, key: str, request: InviteRequest) -> None:
        """A new INVITE passed the policy and is ringing."""
        call = SipCall(key, "inbound", _Control(self, key), request=request)
        self._calls[key] = call
        task = asyncio.get_running_loop().create_task(
            self._decide(IncomingInvite(call, self._answer, self._refuse))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def confirmed(self, key: str, remote_uri: str, sip_call_id: str) -> None:
        """The call is up."""
        call = self._calls.get(key)
        if call is not None:
            call.remote_uri, call.sip_call_id = remote_uri, sip_call_id
        answered = self._answered.get(key)
        if answered is not None and not answered.done():
            answered.set_result(None)

    def event(self, key: str, event: CallEvent) -> None:
        """Hold or transfer progress."""
        call = self._calls.get(key)
        if call is not None:
            call.deliver_event(event)

    def dtmf(self, key: str, digit: str, method: str, duration_ms: int) -> None:
        """A received digit."""
        call = self._calls.get(key)
        if call is not None:
            call.deliver_event(dtmf_event(digit, method, duration_ms))

    def ended(self, key: str, end: CallEnded) -> None:
        """The call is over."""
        call = self._calls.pop(key, None)
        if call is not None:
            call.deliver_end(end)
        answered = self._answered.get(key)
        if answered is not None and not answered.done():
            answered.set_exception(CallFailed(end.status_code, end.status_text or end.reason.value))


def dial_uri(to: str, trunk: SipTrunk | None) -> str:
    """The SIP URI to call or transfer to: ``to`` itself if a URI, else ``to`` on the trunk.

    Raises:
        ValueError: A number or user without a trunk to reach it through.
    """
    if to.lower().startswith(("sip:", "sips:", "tel:")):
        return to
    if trunk is None:
        raise ValueError(f"{to!r} is not a SIP URI and no trunk is configured to reach it")
    return trunk.uri(to)
