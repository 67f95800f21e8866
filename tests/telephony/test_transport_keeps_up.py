"""A call's audio keeps up both ways over our websocket transport while the event loop is busy.

Eight calls on two cores kept the event loop busy ~10 ms a turn. pipecat's input and
output transports hand each frame on with ``asyncio.wait_for`` (three turns of the loop
a frame on Python 3.11): the caller's audio reached the pipeline seconds late, and 40 ms
pieces of the bot's went out slower than they play.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from telephony.simulator.caller_audio import speech_ulaw
from tests.telephony.media_stream import RATE, twilio_stream

BUSY_SECS = 0.008  # the other calls' work, every turn of the event loop


class _Heard(FrameProcessor):
    """Counts the seconds of caller audio that reached the pipeline."""

    def __init__(self):
        super().__init__()
        self.secs = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.secs += len(frame.audio) / (2 * frame.sample_rate)
        await self.push_frame(frame, direction)


async def _other_calls(stop: asyncio.Event) -> None:
    while not stop.is_set():
        time.sleep(BUSY_SECS)
        await asyncio.sleep(0)


async def test_the_callers_audio_reaches_the_pipeline_as_it_comes_on_a_busy_loop():
    heard = _Heard()
    async with twilio_stream(heard) as stream:
        await asyncio.sleep(0.3)
        stop = asyncio.Event()
        busy = asyncio.create_task(_other_calls(stop))
        try:
            start_sent, start_heard = len(stream.call._sent) / 8000, heard.secs
            await stream.call.speak(speech_ulaw("I would like to book an appointment for Tuesday."))
            sent = len(stream.call._sent) / 8000 - start_sent
            await asyncio.sleep(0.1)
            behind = sent - (heard.secs - start_heard)
        finally:
            stop.set()
            await busy
    assert sent > 2.0
    assert behind < 0.2, f"{behind:.2f}s of the caller's {sent:.2f}s had not reached the pipeline"


async def test_the_bots_reply_plays_without_a_gap_on_a_busy_loop():
    secs = 4.0
    t = np.arange(int(secs * RATE)) / RATE
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    async with twilio_stream() as stream:
        stop = asyncio.Event()
        busy = asyncio.create_task(_other_calls(stop))
        try:
            for frame in (
                TTSStartedFrame(context_id="r1"),
                TTSAudioRawFrame(tone, RATE, 1, context_id="r1"),
                TTSStoppedFrame(context_id="r1"),
            ):
                await stream.worker.queue_frame(frame)
            await stream.call.wait_for_bot(quiet_secs=0.5)
            heard, gaps = stream.heard_secs, stream.call.playout_gaps
        finally:
            stop.set()
            await busy
    assert heard >= secs - 0.1
    assert not gaps, [f"{g * 1000:.0f} ms" for g in gaps]
