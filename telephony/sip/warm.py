"""A warm transfer on SIP: the caller holds with music while agents are rung and whispered to."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from loguru import logger

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.desk.plan import AgentRing, WarmPlan
from telephony.hold_music import hold_chime
from telephony.sip.call import SipCall
from telephony.sip.events import CallFailed
from telephony.sip.outgoing import SAMPLE_RATE
from telephony.sip.transport import SipCallTransport
from voice.engines import SpeechModels
from voice.pipeline import synthesizer
from voice.tts import speak_whole

# Renders a line as 8 kHz 16-bit PCM (our TTS): the whisper.
Speak = Callable[[str], Awaitable[bytes]]
# How much hold music waits in the caller's queue: what still plays once the music stops.
HOLD_LEAD_SECS = 0.3
# Music is queued in pieces this long, whenever less than HOLD_LEAD_SECS waits.
MUSIC_PIECE_SECS = 0.1
# How long an INVITE may take to leave once asked (before a decline can cancel it).
DIALING_SECS = 5.0
CALLER_LEFT = "the caller hung up while on hold"
FIRST = asyncio.FIRST_COMPLETED


async def _first(*waits: asyncio.Future) -> None:
    await asyncio.wait(waits, return_when=FIRST)


def tts(models: SpeechModels | None) -> Speak | None:
    """Our TTS (the server's default voice) saying a line at the phone's rate; None without it."""
    if models is None:
        return None

    async def speak(text: str) -> bytes:
        return await speak_whole(synthesizer(models, None), text, SAMPLE_RATE)

    return speak


def missed_outcome(error: Exception) -> str:
    """How a ring that did not become a call ended, in the words the plan records (Twilio's)."""
    code = error.status_code if isinstance(error, CallFailed) else 0
    if code in (408, 480, 487):
        return "no-answer"
    if code in (486, 600, 603):
        return "busy"
    return "failed"


class ConsultingLeg(Protocol):
    """What a warm transfer uses of the caller's leg (``telephony.sip.leg.SipLeg``)."""

    call: SipCall

    def transport(self) -> SipCallTransport: ...

    async def ring(
        self,
        destination: TransferDestination,
        *,
        ring_timeout: float = 30.0,
        on_dialing: Callable[[SipCall], None] | None = None,
    ) -> SipCall: ...

    async def whisper(self, person: SipCall, pcm: bytes) -> None: ...

    async def connect(self, person: SipCall) -> None: ...


class HoldMusic:
    """Keeps the hold chime flowing to the caller (a little ahead of the media clock) while on.

    It goes to the call's own audio queue, which the pipeline leaves empty while the
    caller is held (the assistant said its hold line before the transfer began).
    """

    def __init__(self, call: SipCall):
        """Bind to the held caller's call; :meth:`start` plays."""
        self._call = call
        self._at = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Play (on from where it stopped)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._play())

    async def stop(self) -> None:
        """No more music: at most HOLD_LEAD_SECS + MUSIC_PIECE_SECS of it still plays."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _play(self) -> None:
        chime, piece = hold_chime(), int(MUSIC_PIECE_SECS * 8000) * 2
        while not self._call.is_ended:
            if self._call.queued_audio_secs < HOLD_LEAD_SECS:
                self._call.send_audio(chime[self._at : self._at + piece])
                self._at = (self._at + piece) % len(chime)
            await asyncio.sleep(0.05)


class SipWarmTransfer:
    """One warm transfer of a SIP call, reported to its :class:`WarmPlan` as Twilio's is.

    The caller hears the hold chime; each agent the plan gives is called (``ringing``
    once the INVITE is out) for their ring timeout; a decline on the console cancels
    that ring. The one who answers hears the whisper (our TTS, 8 kHz) alone, then is
    bridged to the caller in PJSIP's bridge and the assistant leaves.
    """

    def __init__(self, leg: ConsultingLeg, plan: WarmPlan, speak: Speak | None):
        """Bind to the caller's leg and the plan."""
        self._leg, self._plan, self._speak = leg, plan, speak
        self._caller = leg.call

    async def run(self) -> None:
        """Hold, ring, whisper, bridge.

        Raises:
            TransferFailed: No agent took the call (the caller is back with the assistant,
                their music stopped), or the caller hung up.
        """
        whisper = asyncio.ensure_future(self._whisper_audio())
        music = HoldMusic(self._caller)
        music.start()
        try:
            while (agent := await self._plan.next_agent()) is not None:
                person = await self._ring(agent)
                if isinstance(person, str):
                    await self._plan.missed(agent, person)
                    continue
                if await self._hand_over(agent, person, music, await whisper):
                    return
            raise TransferFailed("no agent of the queue answered")
        finally:
            whisper.cancel()
            await music.stop()

    async def _ring(self, agent: AgentRing) -> SipCall | str:
        """The agent's answered call, or how the ring ended (``no-answer``, ``declined``...).

        Raises:
            TransferFailed: The caller hung up (the ring is cancelled).
        """
        dialing: asyncio.Future[SipCall] = asyncio.get_running_loop().create_future()

        def dialed(call: SipCall) -> None:
            if not dialing.done():
                dialing.set_result(call)

        placing = asyncio.ensure_future(
            self._leg.ring(agent.destination, ring_timeout=agent.ring_timeout, on_dialing=dialed)
        )
        declined = self._plan.declined(agent)
        caller_left = asyncio.ensure_future(asyncio.shield(self._caller.ended))
        try:
            await _first(dialing, placing, declined, caller_left)
            if dialing.done():
                await self._plan.ringing(agent)
                await _first(placing, declined, caller_left)
            if declined.done() or caller_left.done():
                await self._cancel(placing, dialing)
                if caller_left.done():
                    raise TransferFailed(CALLER_LEFT)
                return "declined"
            try:
                return placing.result()
            except (CallFailed, TransferFailed, ValueError) as e:
                logger.info(f"{self._caller.id}: agent {agent.agent_id} not reached: {e}")
                return missed_outcome(e)
        except BaseException:
            await asyncio.shield(self._cancel(placing, dialing))  # no phone left ringing
            raise
        finally:
            caller_left.cancel()

    async def _cancel(self, placing: asyncio.Future, dialing: asyncio.Future) -> None:
        """Stop ringing (CANCEL); a call answered meanwhile is hung up."""
        if not placing.done():
            await asyncio.wait([placing, dialing], timeout=DIALING_SECS, return_when=FIRST)
            placing.cancel()
            await asyncio.wait([placing])
        if not placing.cancelled() and placing.exception() is None:
            await placing.result().hangup()

    async def _hand_over(
        self, agent: AgentRing, person: SipCall, music: HoldMusic, whisper: bytes
    ) -> bool:
        """Whisper to the agent who answered, then bridge; False when they hung up first."""
        try:
            await self._plan.answered(agent)
            await self._whisper(person, whisper)
            await music.stop()
            await self._leg.connect(person)
        except TransferFailed as e:
            await person.hangup()
            if self._caller.is_ended:
                raise TransferFailed(CALLER_LEFT) from None
            logger.info(f"{self._caller.id}: agent {agent.agent_id} left before the bridge: {e}")
            await self._plan.missed(agent, "completed")
            music.start()
            return False
        except BaseException:
            await asyncio.shield(person.hangup())  # not bridged: nobody is left on the line
            raise
        await self._plan.bridged(agent)
        await self._leg.transport().leave()  # recorded first: the call's end follows
        return True

    async def _whisper(self, person: SipCall, pcm: bytes) -> None:
        """Play the whisper to the agent alone, unless the caller hangs up meanwhile."""
        playing = asyncio.ensure_future(self._leg.whisper(person, pcm))
        caller_left = asyncio.ensure_future(asyncio.shield(self._caller.ended))
        await _first(playing, caller_left)
        caller_left.cancel()
        if not playing.done():
            playing.cancel()
            raise TransferFailed(CALLER_LEFT)
        playing.result()

    async def _whisper_audio(self) -> bytes:
        """The whisper as 8 kHz PCM; two seconds of the chime where no TTS is at hand."""
        if self._speak is not None:
            try:
                return await self._speak(self._plan.whisper)
            except Exception as e:  # the agent still gets the call, without the summary
                logger.error(f"transfer {self._plan.transfer_id}: whisper not synthesized: {e}")
        return hold_chime()[: 8000 * 2]
