"""A pipecat transport over a SIP call: caller audio and keys in, bot audio out, barge-in clears."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    CancelFrame,
    ClientConnectedFrame,
    EndFrame,
    EndTaskFrame,
    Frame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputDTMFFrame,
    OutputDTMFUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_transport import BaseTransport, TransportParams

from telephony.audio_input import DirectAudioInput
from telephony.held_output import HeldItem, HeldOutput
from telephony.sip.call import SipCall
from telephony.sip.events import DtmfReceived, EndReason, HoldChanged, MarkReached
from telephony.sip.outgoing import SAMPLE_RATE
from voice.frames import REPLAY_SECS, OutputPlaybackMarkFrame, PlaybackMarkFrame
from voice.upsampling import FrameUpsampler, caller_frame

# Ends we caused ourselves: the pipeline is already stopping, nothing to report upstream.
_OUR_ENDS = (EndReason.LOCAL_HANGUP, EndReason.SHUTDOWN)
# Caller audio as it arrives (8 kHz PCM, 20 ms), for listeners beside the pipeline (AMD).
AudioTap = Callable[[bytes], None]


class SipCallParams(TransportParams):
    """Transport settings for a SIP call.

    Parameters:
        playout_lead_secs: How far ahead of the media clock audio is queued. Our own
            queue is what a barge-in clears (nothing sits on the far side), so the
            lead only absorbs event-loop stalls; it costs nothing in cut-off time.
        drain_secs: On a graceful stop, how long the queued audio may play out
            before we hang up (so a goodbye is heard).
        hangup_on_stop: Whether stopping the pipeline hangs the call up.
    """

    playout_lead_secs: float = 0.2
    drain_secs: float = 2.0
    hangup_on_stop: bool = True


class SipCallInput(DirectAudioInput):
    """Pushes the call's audio (resampled to the pipeline's rate), keypad digits and marks."""

    def __init__(
        self,
        transport: SipCallTransport,
        call: SipCall,
        params: SipCallParams,
        tap: AudioTap | None = None,
        **kw,
    ):
        super().__init__(params, **kw)
        self._transport = transport
        self._call = call
        self._tap = tap
        self._tasks: list[asyncio.Task] = []
        self._resampler = FrameUpsampler()  # each frame on at once: the VAD hears a barge-in now

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self._transport.call_event("on_client_connected")
        await self.push_frame(ClientConnectedFrame())
        if not self._tasks:
            self._tasks = [
                self.create_task(self._read_audio()),
                self.create_task(self._read_events()),
            ]
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame):
        await super().stop(frame)
        await self._stop_reading()

    async def cancel(self, frame: CancelFrame):
        await super().cancel(frame)
        await self._stop_reading()

    async def cleanup(self):
        await super().cleanup()
        await self._stop_reading()

    async def leave(self) -> None:
        """The call goes on without us (bridged): hear no more of it, end the pipeline."""
        if not self._tasks:
            return  # never started (or already stopping)
        await self._stop_reading()
        await self.push_frame(EndTaskFrame(reason="transferred"), FrameDirection.UPSTREAM)

    async def _stop_reading(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await self.cancel_task(task)

    async def _read_audio(self) -> None:
        async for pcm in self._call.audio():
            if self._tap is not None:
                self._listen(pcm)  # the recording keeps the line as it was
            if self._call.on_hold:  # a PBX's music or announcement, not the caller
                pcm = bytes(len(pcm))
            frame = await caller_frame(self._resampler, pcm, SAMPLE_RATE, self.sample_rate)
            if frame is not None:
                await self.push_audio_frame(frame)

    async def _read_events(self) -> None:
        async for event in self._call.events():
            if isinstance(event, DtmfReceived):
                await self._dtmf(event.digit)
            elif isinstance(event, MarkReached):
                await self.push_frame(PlaybackMarkFrame(mark=event.name))
            elif isinstance(event, HoldChanged):
                await self._transport.call_event("on_hold_changed", event.on_hold)
        end = self._call.ended.result()
        await self._transport.call_event("on_call_ended", end)
        if end.reason in _OUR_ENDS:
            return
        if end.reason is not EndReason.TRANSFERRED:  # a transfer is ours, but ends the media
            await self._transport.call_event("on_client_disconnected")
        await self.push_frame(EndTaskFrame(reason=end.reason.value), FrameDirection.UPSTREAM)

    def _listen(self, pcm: bytes) -> None:
        try:
            self._tap(pcm)  # type: ignore[misc]
        except Exception as e:  # a listener's bug must not cost the call its audio
            logger.exception(f"{self._call.id}: audio listener failed, detached: {e}")
            self._tap = None

    async def _dtmf(self, digit: str) -> None:
        try:
            entry = KeypadEntry(digit)
        except ValueError:
            logger.debug(f"{self._call.id}: ignoring DTMF {digit!r} (not on a phone keypad)")
            return
        await self.push_frame(InputDTMFFrame(button=entry))


class SipCallOutput(HeldOutput):
    """Queues audio to the call in real time (plus a small lead); an interruption empties it.

    A pause (:class:`voice.frames.BotPauseFrame`) takes the queue back whole, marks
    included, to queue again on resume: nothing sits on the far side.
    """

    def __init__(self, transport: SipCallTransport, call: SipCall, params: SipCallParams, **kw):
        super().__init__(params, **kw)
        self._call = call
        self._params = params
        self._resampler = create_stream_resampler()
        self.owns_call = params.hangup_on_stop

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame):
        await super().stop(frame)
        if self.owns_call:
            await self._drain()
            await self._call.hangup()

    async def cancel(self, frame: CancelFrame):
        await super().cancel(frame)
        if self.owns_call:
            await self._call.hangup()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._call.clear_audio()

    async def write_transport_frame(self, frame: Frame):
        """A playback mark, queued in order with the audio before it."""
        if isinstance(frame, OutputPlaybackMarkFrame) and await self.admit():
            self._call.mark(frame.mark)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        return await self.admit() and await self._send_audio(frame)

    async def take_back(self) -> list[HeldItem]:
        """Empty the call's queue; what it held, from a little before the cut."""
        held = self._call.take_back_audio(REPLAY_SECS)
        return [OutputPlaybackMarkFrame(i) if isinstance(i, str) else i for i in held]

    async def send_held(self, item: HeldItem) -> None:
        if isinstance(item, OutputPlaybackMarkFrame):
            self._call.mark(item.mark)
            return
        frame = OutputAudioRawFrame(item, sample_rate=SAMPLE_RATE, num_channels=1)
        if await self._send_audio(frame):
            await self.pushed_held(frame)

    async def _send_audio(self, frame: OutputAudioRawFrame) -> bool:
        if self._call.is_ended:
            return False
        audio = frame.audio
        if frame.sample_rate != SAMPLE_RATE:
            audio = await self._resampler.resample(audio, frame.sample_rate, SAMPLE_RATE)
        self._call.send_audio(audio)
        ahead = self._call.queued_audio_secs - self._params.playout_lead_secs
        if ahead > 0:
            await asyncio.sleep(ahead)
        return True

    def _supports_native_dtmf(self) -> bool:
        return True

    async def _write_dtmf_native(self, frame: OutputDTMFFrame | OutputDTMFUrgentFrame):
        digits = "".join(str(button.value) for button in frame.buttons)
        if digits and not self._call.is_ended:
            await self._call.send_dtmf(digits)

    async def _drain(self) -> None:
        waited = 0.0
        while self._call.queued_audio_secs > 0 and waited < self._params.drain_secs:
            await asyncio.sleep(0.02)
            waited += 0.02


class SipCallTransport(BaseTransport):
    """One SIP call's media as a pipecat transport (mirrors the Twilio websocket transport).

    Caller audio comes in at 8 kHz and is pushed at the pipeline's input rate
    (16 kHz for Whisper); bot audio goes out at 8 kHz. RFC 4733 and SIP INFO
    digits become ``InputDTMFFrame`` (what pipecat's Twilio serializer emits for
    ``dtmf``); playback marks come back as :class:`PlaybackMarkFrame` when the audio
    before them was sent. When the far end ends the call, ``EndTaskFrame`` goes
    upstream, as Twilio's ``stop`` does (and when a transfer took the call away).

    Events:
        on_client_connected(transport): the pipeline started.
        on_client_disconnected(transport): the far end ended the call (not us).
        on_call_ended(transport, end: CallEnded): the call ended, whoever ended it.
        on_hold_changed(transport, on_hold: bool): the far end put us on hold or resumed;
            while it holds us, the pipeline hears silence (not its hold music).
    """

    def __init__(
        self, call: SipCall, params: SipCallParams | None = None, tap: AudioTap | None = None
    ):
        """Wrap a live call; ``tap`` (if any) hears the caller's audio too, as it arrives."""
        super().__init__()
        params = params or SipCallParams(audio_in_enabled=True, audio_out_enabled=True)
        self.call = call
        self._input = SipCallInput(self, call, params, tap, name=self._input_name)
        self._output = SipCallOutput(self, call, params, name=self._output_name)
        for name in ("on_client_connected", "on_client_disconnected", "on_call_ended"):
            self._register_event_handler(name)
        self._register_event_handler("on_hold_changed")

    def input(self) -> SipCallInput:
        """The half that reads the call."""
        return self._input

    def output(self) -> SipCallOutput:
        """The half that writes the call."""
        return self._output

    async def call_event(self, name: str, *args) -> None:
        """Fire one of this transport's events."""
        await self._call_event_handler(name, *args)

    def release_call(self) -> None:
        """Ending the pipeline no longer hangs up: the call lives on (e.g. bridged to a person)."""
        self._output.owns_call = False

    async def leave(self) -> None:
        """The call lives on without the pipeline (bridged): stop reading it and end the pipeline.

        Nothing more of the caller reaches speech recognition or the transcript (their
        talk with the person is not ours), and the call's audio tap (listen-in) ends.
        """
        self.release_call()
        await self._input.leave()
