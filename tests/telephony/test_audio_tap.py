"""The call's audio tap: both sides, the bot's on its playout clock, barge-ins, listeners."""

from __future__ import annotations

import asyncio
import time

import pytest
from pipecat.frames.frames import (
    EndFrame,
    EndTaskFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    TTSAudioRawFrame,
)
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from telephony.audio_tap import BotCut, CallAudioTap, TappedAudio
from voice.frames import CARRIER_AUDIO, BotPauseFrame

BASE = time.monotonic_ns()


class Transport:
    """Just the two halves the tap tells apart."""

    def __init__(self) -> None:
        self.halves = FrameProcessor(), FrameProcessor()

    def input(self) -> FrameProcessor:
        return self.halves[0]

    def output(self) -> FrameProcessor:
        return self.halves[1]


def pushed(source: FrameProcessor, frame) -> FramePushed:
    """A push happening now, stamped by a pipeline clock started at BASE."""
    return FramePushed(
        source=source,
        destination=FrameProcessor(),
        frame=frame,
        direction=FrameDirection.DOWNSTREAM,
        timestamp=time.monotonic_ns() - BASE,
    )


def pcm(secs: float, rate: int) -> bytes:
    return b"\x01\x00" * int(secs * rate)


@pytest.fixture
def tap() -> tuple[CallAudioTap, Transport, list]:
    transport, events = Transport(), []
    tap = CallAudioTap("c1")
    tap.attach(transport)

    class Log:
        def on_audio(self, event):
            events.append(event)

    tap.subscribe(Log())
    return tap, transport, events


async def test_the_bot_is_stamped_when_it_plays_and_a_barge_in_cuts_it(tap):
    tap, transport, events = tap
    caller = InputAudioRawFrame(pcm(0.02, 16000), sample_rate=16000, num_channels=1)
    before = time.monotonic()
    await tap.on_push_frame(pushed(transport.input(), caller))
    for _ in range(3):  # the output sends 40 ms chunks ahead of real time
        bot = OutputAudioRawFrame(pcm(0.04, 8000), sample_rate=8000, num_channels=1)
        await tap.on_push_frame(pushed(transport.output(), bot))
    await tap.on_push_frame(pushed(transport.output(), InterruptionFrame()))
    await asyncio.sleep(0.01)
    late = OutputAudioRawFrame(pcm(0.04, 8000), sample_rate=8000, num_channels=1)
    await tap.on_push_frame(pushed(transport.output(), late))

    heard, bots, cut = events[0], events[1:4], events[4]
    assert heard.side == "caller" and heard.sample_rate == 16000
    assert before - 0.03 < heard.at <= time.monotonic() - 0.02, "when it began to arrive"
    assert [b.side for b in bots] == ["bot"] * 3
    assert [round(b.at - bots[0].at, 3) for b in bots] == [0.0, 0.04, 0.08], "played back to back"
    assert isinstance(cut, BotCut) and cut.at < bots[2].at, "the cut drops queued audio"
    assert events[5].at >= cut.at + 0.01, "after a cut, audio plays when it is sent"


async def test_a_pause_cuts_the_bot_and_what_it_plays_again_is_laid_after_it(tap):
    tap, transport, events = tap
    for _ in range(3):  # 120 ms sent ahead
        bot = OutputAudioRawFrame(pcm(0.04, 8000), sample_rate=8000, num_channels=1)
        await tap.on_push_frame(pushed(transport.output(), bot))
    await tap.on_push_frame(pushed(transport.output(), BotPauseFrame()))
    await asyncio.sleep(0.05)
    again = OutputAudioRawFrame(pcm(0.04, 8000), sample_rate=8000, num_channels=1)
    await tap.on_push_frame(pushed(transport.output(), again))  # resumed: sent again
    cut, replayed = events[3], events[4]
    assert isinstance(cut, BotCut) and cut.at < events[2].at, "the held audio was not heard"
    assert replayed.side == "bot" and replayed.at >= cut.at + 0.04, "heard when played again"


async def test_the_caller_is_published_as_the_carrier_sent_it(tap):
    """A frame that carries the carrier's own audio (a Twilio call's 8 kHz) is published
    as that: the recording and listen-in need not resample the pipeline's 16 kHz back."""
    tap, transport, events = tap
    caller = InputAudioRawFrame(pcm(0.02, 16000), sample_rate=16000, num_channels=1)
    caller.metadata[CARRIER_AUDIO] = (b"\x02\x00" * 160, 8000)
    before = time.monotonic()
    await tap.on_push_frame(pushed(transport.input(), caller))
    (heard,) = events
    assert (heard.side, heard.audio, heard.sample_rate) == ("caller", b"\x02\x00" * 160, 8000)
    assert before - 0.03 < heard.at <= time.monotonic() - 0.02, "when it began to arrive"


async def test_only_the_transport_halves_count(tap):
    tap, transport, events = tap
    tts = TTSAudioRawFrame(pcm(0.04, 8000), sample_rate=8000, num_channels=1)
    await tap.on_push_frame(pushed(FrameProcessor(), tts))  # the TTS's push, not yet written
    await tap.on_push_frame(pushed(FrameProcessor(), InterruptionFrame()))
    assert events == []


async def test_a_failing_listener_is_dropped_and_streams_end_with_the_call(tap):
    tap, transport, events = tap

    class Broken:
        def on_audio(self, event):
            raise RuntimeError("disk full")

    tap.subscribe(Broken())
    stream = tap.stream(backlog=2)
    for _ in range(3):
        frame = InputAudioRawFrame(pcm(0.02, 16000), sample_rate=16000, num_channels=1)
        await tap.on_push_frame(pushed(transport.input(), frame))
    tap.close()
    got = [event async for event in stream]
    assert len(events) == 3, "the others still hear every frame"
    assert len(got) == 2 and stream.dropped == 1 and all(isinstance(e, TappedAudio) for e in got)


async def test_the_caller_hanging_up_is_told_once_as_it_happens(tap):
    tap, transport, _ = tap
    told: list[float | None] = []
    tap.on_input_ended = lambda: told.append(tap.input_ended_at)
    await tap.on_push_frame(pushed(transport.input(), InputAudioRawFrame(pcm(0.02, 8000), 8000, 1)))
    assert told == [] and tap.input_ended_at is None
    hung_up = pushed(transport.input(), EndTaskFrame(reason="stream stopped"))
    await tap.on_push_frame(hung_up)
    await tap.on_push_frame(pushed(transport.input(), EndFrame()))
    assert told == [None], "once, as the media ends (the session starts its drain timer)"
    assert tap.input_ended_at is not None
