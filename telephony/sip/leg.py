"""A call SIP carries: RTP audio through our PJSIP engine, REFER for transfers, RFC 4733 digits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.carrier import CallLeg, NotSupported
from telephony.desk.plan import WarmPlan
from telephony.sip.call import SipCall
from telephony.sip.engine import SipEngine, dial_uri
from telephony.sip.events import CallFailed, EndReason, MarkReached
from telephony.sip.request import InviteRequest
from telephony.sip.settings import SipTrunk
from telephony.sip.transport import AudioTap, SipCallParams, SipCallTransport
from telephony.sip.warm import SipWarmTransfer, Speak

# The far end ended the call (anything else is ours, a transfer, or a failure).
_HUNG_UP = (EndReason.REMOTE_BYE, EndReason.REMOTE_CANCEL)


def transfer_uri(
    destination: TransferDestination, trunk: SipTrunk | None, request: InviteRequest | None
) -> str:
    """Where a REFER sends the caller: a SIP URI as given; a number through the trunk.

    Without a trunk, a number goes back where the call came from (the PBX or trunk
    that sent the INVITE), which routes it like any number its users dial.

    Raises:
        TransferFailed: A number, with no trunk and no caller address to route it through.
    """
    if destination.type == "sip" or trunk is not None:
        return dial_uri(destination.target, trunk)
    if request is not None and request.source_ip:
        host = f"[{request.source_ip}]" if ":" in request.source_ip else request.source_ip
        return f"sip:{destination.target}@{host}:{request.source_port or 5060}"
    raise TransferFailed("no SIP trunk to reach a number through (set SIP_TRUNK_HOST)")


class SipLeg(CallLeg):
    """:class:`telephony.carrier.CallLeg` for a call on our SIP engine (``provider = "sip"``).

    Audio is 8 kHz PCM through :class:`SipCallTransport` (our queue is the only
    buffer, so a barge-in is silent within a frame); transfers are blind REFERs
    whose final NOTIFY says whether the target answered; digits go out as RFC 4733
    events. PJSIP records nothing: the call's audio is recorded from the pipeline.

    A warm transfer to a queue (:meth:`warm_transfer`, see :mod:`telephony.sip.warm`) is
    three steps here, with hold music for the caller meanwhile: :meth:`consult` calls
    the person while the caller stays on our line, :meth:`whisper` plays them audio the
    caller does not hear (the AI's summary, said by our TTS), and :meth:`connect`
    bridges caller and person in our PJSIP bridge and lets the AI go; the server stays
    in the media path (the bridge), but the call's pipeline, and so its listen-in, ends.
    """

    provider = "sip"

    def __init__(
        self,
        call: SipCall,
        *,
        engine: Callable[[], SipEngine | None] = lambda: None,
        trunk: SipTrunk | None = None,
        transfer_timeout: float = 30.0,
        tap: AudioTap | None = None,
        speak: Speak | None = None,
    ):
        """Bind to a live (answered) call; ``tap`` also hears the caller (e.g. AMD).

        ``speak`` renders a line as 8 kHz PCM (a warm transfer's whisper); without it the
        agent hears a short chime instead.
        """
        self.call = call
        self._speak = speak
        self._engine = engine
        self._trunk = trunk
        self._transfer_timeout = transfer_timeout
        self._tap = tap
        self._transport: SipCallTransport | None = None
        self.bridged_to: SipCall | None = None
        self._watch: asyncio.Task | None = None

    def transport(self) -> SipCallTransport:
        """The call's audio as a pipecat transport (caller in at the pipeline's rate)."""
        if self._transport is None:
            params = SipCallParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_out_end_silence_secs=0,  # a goodbye plays out (drained), no 2 s of silence
            )
            self._transport = SipCallTransport(self.call, params, tap=self._tap)
        return self._transport

    @property
    def far_end_hung_up(self) -> bool:
        """The other party sent BYE (or CANCEL)."""
        return self.call.is_ended and self.call.ended.result().reason in _HUNG_UP

    async def hang_up(self) -> None:
        """BYE, unless the call is already over or bridged to a person (never raises)."""
        if self.bridged_to is not None:
            return  # the bridge ends both legs when either hangs up
        try:
            await self.call.hangup()
        except Exception as e:
            logger.warning(f"{self.call.id}: hang-up failed: {e}")

    def cannot_transfer(self) -> str | None:
        """A call that ended cannot be moved."""
        return "the SIP call has ended" if self.call.is_ended else None

    async def transfer(self, destination: TransferDestination) -> None:
        """REFER the far end to ``destination`` and wait for the final NOTIFY.

        On success the far end is talking to the target and PJSIP has left the call
        (BYE), which ends our media.

        Raises:
            TransferFailed: The REFER was refused, the target did not answer (busy,
                declined, no answer in time), or the URI is unusable; the call is
                still ours.
        """
        if reason := self.cannot_transfer():
            raise TransferFailed(reason)
        uri = transfer_uri(destination, self._trunk, self.call.request)
        try:
            outcome = await self.call.transfer(uri, timeout=self._transfer_timeout)
        except (ValueError, CallFailed) as e:
            raise TransferFailed(str(e)) from None
        if not outcome.succeeded:
            raise TransferFailed(f"the target answered {outcome.status_code} {outcome.reason}")

    def cannot_warm_transfer(self) -> str | None:
        """Agents are called through our own engine: it must be running, the call still up."""
        if reason := self.cannot_transfer():
            return reason
        return "the SIP engine is not running" if self._engine() is None else None

    async def warm_transfer(self, plan: WarmPlan) -> None:
        """Hold the caller (music), ring the plan's agents, whisper to the one who answers,
        bridge them; the assistant's pipeline then ends.

        Raises:
            TransferFailed: No agent took the call (the caller is back with the assistant),
                or the caller hung up while on hold.
        """
        if reason := self.cannot_warm_transfer():
            raise TransferFailed(reason)
        await SipWarmTransfer(self, plan, self._speak).run()

    async def send_dtmf(self, digits: str) -> None:
        """Digits as RFC 4733 telephone-events.

        Raises:
            NotSupported: The call has ended.
            ValueError: A character that is not a keypad digit.
        """
        try:
            await self.call.send_dtmf(digits)
        except CallFailed as e:
            raise NotSupported(f"cannot send DTMF: {e}") from None

    # Warm transfer

    async def consult(
        self, destination: TransferDestination, *, ring_timeout: float = 30.0
    ) -> SipCall:
        """Call the person a warm transfer goes to (the caller stays with the assistant).

        A number goes out through the trunk (its credentials answer the challenge);
        a SIP URI is called as it is.

        Raises:
            TransferFailed: SIP is not running, or the person did not answer (busy,
                declined, no answer within ``ring_timeout``).
        """
        try:
            return await self.ring(destination, ring_timeout=ring_timeout)
        except (ValueError, CallFailed) as e:
            raise TransferFailed(f"could not reach {destination.target}: {e}") from None

    async def ring(
        self,
        destination: TransferDestination,
        *,
        ring_timeout: float = 30.0,
        on_dialing: Callable[[SipCall], None] | None = None,
    ) -> SipCall:
        """:meth:`consult`, with the SIP status of a failure; ``on_dialing``: the INVITE is out.

        Cancelling it while it rings sends CANCEL.

        Raises:
            TransferFailed: SIP is not running, or a number with no way to reach it.
            CallFailed: Busy (486), declined (603), no answer (408)...
            ValueError: A URI PJSIP cannot dial.
        """
        engine = self._engine()
        if engine is None:
            raise TransferFailed("the SIP engine is not running")
        uri = transfer_uri(destination, self._trunk, self.call.request)
        trunk = self._trunk if destination.type == "number" else None
        return await engine.place_call(
            uri, trunk=trunk, ring_timeout=ring_timeout, on_dialing=on_dialing
        )

    async def whisper(self, person: SipCall, pcm: bytes) -> None:
        """Play 8 kHz 16-bit PCM (e.g. Piper reading the AI's summary) to ``person`` only.

        Returns once it was played (the caller hears none of it).

        Raises:
            TransferFailed: The person hung up before the end.
        """
        mark = f"whisper-{id(pcm)}"
        person.send_audio(pcm)
        person.mark(mark)
        async for event in person.events():
            if isinstance(event, MarkReached) and event.name == mark:
                return
        raise TransferFailed("the person hung up during the whisper")

    async def connect(self, person: SipCall) -> None:
        """Bridge the caller and ``person``; the AI's pipeline may then end without a hang-up.

        From here each leg ends the other: when the caller or the person hangs up,
        the other one is hung up too.

        Raises:
            TransferFailed: Either call is over.
        """
        engine = self._engine()
        if engine is None:
            raise TransferFailed("the SIP engine is not running")
        try:
            await engine.bridge(self.call, person)
        except CallFailed as e:
            raise TransferFailed(f"could not connect the call: {e}") from None
        self.transport().release_call()
        self.bridged_to = person
        self._watch = asyncio.get_running_loop().create_task(self._end_together(person))

    async def _end_together(self, person: SipCall) -> None:
        legs = [asyncio.ensure_future(self.call.ended), asyncio.ensure_future(person.ended)]
        await asyncio.wait(legs, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(self.call.hangup(), person.hangup(), return_exceptions=True)
        logger.info(f"{self.call.id}: the bridged call with {person.id} ended")
