"""Both sides of a live call's audio as heard, for whoever listens (the recorder, listen-in)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndTaskFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import BaseTransport

from voice.frames import CARRIER_AUDIO, BotPauseFrame

# How much audio a slow stream follower may fall behind before the oldest is dropped.
DEFAULT_AUDIO_BACKLOG = 250  # ~5 s of 20 ms frames


@dataclass(frozen=True)
class TappedAudio:
    """A piece of one side's audio.

    Parameters:
        side: ``caller`` (what reached us from the far end) or ``bot`` (what we sent).
        audio: 16-bit little-endian mono PCM.
        sample_rate: Its rate (the caller's is the pipeline's input rate, 16 kHz).
        at: Monotonic seconds (``time.monotonic()``): for the caller, when this audio
            began to arrive; for the bot, when it starts playing to the caller.
    """

    side: Literal["caller", "bot"]
    audio: bytes
    sample_rate: int
    at: float

    @property
    def seconds(self) -> float:
        """How long it lasts."""
        return len(self.audio) / (2 * self.sample_rate)


@dataclass(frozen=True)
class BotCut:
    """The caller talked over the bot: bot audio due to play after ``at`` was never heard."""

    at: float


TapEvent = TappedAudio | BotCut


class AudioListener(Protocol):
    """Something fed a call's audio as it flows (a recorder)."""

    def on_audio(self, event: TapEvent) -> None:
        """Take one event; runs on the event loop between frames, so it must be quick."""
        ...


class AudioStream:
    """A bounded queue of one follower's audio events, read with ``async for``.

    A follower that reads too slowly loses the oldest audio (counted in
    :attr:`dropped`), never slowing the call. The iteration ends when :meth:`close`
    is called (by the follower, or by the tap when the call ends).
    """

    def __init__(self, tap: CallAudioTap, backlog: int):
        """Start empty; the tap puts events in."""
        self._tap = tap
        self._events: deque[TapEvent] = deque(maxlen=max(1, backlog))
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def on_audio(self, event: TapEvent) -> None:
        """Queue an event (the oldest goes when full)."""
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(event)
        self._ready.set()

    def close(self) -> None:
        """Stop following; what is queued can still be read."""
        self._closed = True
        self._tap.unsubscribe(self)
        self._ready.set()

    def __aiter__(self) -> AudioStream:
        return self

    async def __anext__(self) -> TapEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()


class CallAudioTap(BaseObserver):
    """Publishes a call's audio, both sides, as the caller heard it: a pipecat observer.

    The caller's side is each audio frame the transport's input pushes, as the carrier
    sent it where the frame carries that (``voice.frames.CARRIER_AUDIO``). The bot's
    side is each audio frame the transport's output has written: output transports
    send ahead of real time (``WebsocketCallParams.playout_lead_secs``), so the tap
    keeps the same playout clock and stamps each frame with when it plays. When the
    output handles an interruption (the carrier is told to drop what it buffered),
    listeners get :class:`BotCut`: what was due after that moment was never heard (a
    pause cuts too; what a resume plays again comes as audio once more).

    One per call (``CallSession.audio``); the recorder and any listen-in subscribe
    to it. :attr:`input_ended_at` is when the caller's audio stopped (the far end
    hung up, or the call began to end): the call's media ended then, whatever is
    still transcribed and stored after it (:attr:`on_input_ended` is called then, once).
    Listeners run in the event loop and must not block; a failing listener is dropped
    and logged, never the call.
    """

    def __init__(self, call_id: str = ""):
        """A tap with no transport yet (see :meth:`attach`) and no listeners."""
        super().__init__()
        self.call_id = call_id
        self._listeners: list[AudioListener] = []
        self._input: FrameProcessor | None = None
        self._output: FrameProcessor | None = None
        self._clock_origin: int | None = None  # the pipeline clock's zero, in monotonic ns
        self._playout_end = 0.0
        self.input_ended_at: float | None = None
        self.on_input_ended: Callable[[], None] | None = None

    def attach(self, transport: BaseTransport) -> None:
        """Listen to this transport's input and output (before the pipeline starts)."""
        self._input, self._output = transport.input(), transport.output()

    def subscribe(self, listener: AudioListener) -> Callable[[], None]:
        """Feed ``listener`` every event from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self.unsubscribe(listener)

    def unsubscribe(self, listener: AudioListener) -> None:
        """Stop feeding ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def stream(self, backlog: int = DEFAULT_AUDIO_BACKLOG) -> AudioStream:
        """Follow the audio with ``async for`` (e.g. to send it over a websocket)."""
        stream = AudioStream(self, backlog)
        self.subscribe(stream)
        return stream

    def close(self) -> None:
        """The call is over: end every stream and forget the listeners."""
        for listener in list(self._listeners):
            if isinstance(listener, AudioStream):
                listener.close()
        self._listeners.clear()

    def wants_push(self, data: FramePushed) -> bool:
        """Only pushes from the transport's two halves (``voice.worker.SparseWorkerObserver``)."""
        return data.source is self._input or data.source is self._output

    async def on_push_frame(self, data: FramePushed) -> None:
        """Pick the caller's and the bot's audio (and barge-ins) out of the pipeline."""
        frame = data.frame
        if data.source is self._input and isinstance(frame, (EndFrame, CancelFrame, EndTaskFrame)):
            # The far end hung up (EndTaskFrame upstream), or the pipeline began to end.
            if self.input_ended_at is None and self.on_input_ended is not None:
                self.on_input_ended()
            self.input_ended_at = self.input_ended_at or self._at(data)
        if not self._listeners or data.direction != FrameDirection.DOWNSTREAM:
            return
        if data.source is self._input and isinstance(frame, InputAudioRawFrame):
            audio, rate = frame.metadata.get(CARRIER_AUDIO) or (frame.audio, frame.sample_rate)
            seconds = len(audio) / (2 * rate)
            began = self._at(data) - seconds
            self._publish(TappedAudio("caller", audio, rate, began))
        elif data.source is self._output and isinstance(frame, OutputAudioRawFrame):
            start = max(self._playout_end, self._at(data))
            audio = TappedAudio("bot", frame.audio, frame.sample_rate, start)
            self._playout_end = start + audio.seconds
            self._publish(audio)
        elif data.source is self._output and isinstance(frame, (InterruptionFrame, BotPauseFrame)):
            now = self._at(data)
            self._playout_end = now
            self._publish(BotCut(now))

    def _at(self, data: FramePushed) -> float:
        """The push's monotonic time, from the pipeline clock (observers hear of it later)."""
        origin = time.monotonic_ns() - data.timestamp
        if self._clock_origin is None or origin < self._clock_origin:
            self._clock_origin = origin
        return (self._clock_origin + data.timestamp) / 1e9

    def _publish(self, event: TapEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_audio(event)
            except Exception as e:
                logger.exception(f"call {self.call_id}: audio listener {listener} failed: {e}")
                self.unsubscribe(listener)
