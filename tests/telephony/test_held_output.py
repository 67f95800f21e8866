"""Pausing the bot over a real Twilio media stream: clear at once, the rest sent again on resume."""

from __future__ import annotations

import asyncio

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)

from telephony.simulator.call import TICK
from tests.telephony.media_stream import RATE, twilio_stream
from voice.frames import REPLAY_SECS, BotPauseFrame, BotResumeFrame

SENTENCES = ["One two three.", "Four five six.", "Seven eight nine."]
SENTENCE_SECS = 1.0


def tone(secs: float) -> bytes:
    t = np.arange(int(secs * RATE)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def reply() -> list[Frame]:
    """A bot reply as the TTS pushes it: each sentence's audio, then its text."""
    frames: list[Frame] = [TTSStartedFrame(context_id="r1")]
    for sentence in SENTENCES:
        frames.append(TTSAudioRawFrame(tone(SENTENCE_SECS), RATE, 1, context_id="r1"))
        text = TTSTextFrame(sentence, text_type="sentence")
        text.context_id = "r1"
        frames.append(text)
    frames.append(TTSStoppedFrame(context_id="r1"))
    return frames


async def test_a_pause_clears_at_once_and_a_resume_plays_the_rest_of_the_reply():
    async with twilio_stream() as stream:
        for frame in reply():
            await stream.worker.queue_frame(frame)
        # Near the end of the second sentence: its mark is sent (we send 0.4 s ahead), not reached.
        await stream.until_heard(1.75)
        await stream.worker.queue_frame(BotPauseFrame())
        await asyncio.sleep(0.1)
        assert stream.call.clears == 1, "Twilio was told to drop what it buffered"
        paused_at = stream.heard_secs
        await asyncio.sleep(0.6)
        assert stream.heard_secs - paused_at <= 2 * TICK, "the caller hears silence"
        await stream.worker.queue_frame(BotResumeFrame())
        await stream.call.wait_for_bot(quiet_secs=0.5)
        await asyncio.sleep(0.2)
    whole = len(SENTENCES) * SENTENCE_SECS
    assert whole <= stream.heard_secs <= whole + REPLAY_SECS + 0.1, "the rest, sent again"
    assert [t.text for t in stream.turns] == [" ".join(SENTENCES)]
    assert not stream.turns[0].interrupted, "every sentence's mark came back after its audio"
    echoed = stream.call.marks_echoed
    assert any("~" in mark for mark in echoed), f"marks pending at the clear were resent: {echoed}"


async def test_an_interruption_during_a_pause_drops_the_rest_and_cuts_where_it_paused():
    async with twilio_stream() as stream:
        for frame in reply():
            await stream.worker.queue_frame(frame)
        await stream.until_heard(1.5)  # half of the second sentence
        await stream.worker.queue_frame(BotPauseFrame())
        await asyncio.sleep(0.6)  # the caller's words are being judged
        await stream.worker.queue_frame(InterruptionFrame())
        await asyncio.sleep(1.0)
    assert 1.5 <= stream.heard_secs <= 1.7, "nothing more after the pause"
    assert len(stream.turns) == 1 and stream.turns[0].interrupted
    heard = stream.turns[0].text
    assert heard.startswith(SENTENCES[0]) and len(heard) < len(" ".join(SENTENCES[:2])), heard


async def test_a_pause_after_an_interruption_replays_nothing_of_the_reply_it_cut():
    """Twilio dropped what it buffered at the interruption's clear: a pause right after
    (the caller's next sound) has nothing of that reply to hold or play again."""
    async with twilio_stream() as stream:
        for frame in reply():
            await stream.worker.queue_frame(frame)
        await stream.until_heard(1.5)
        await stream.worker.queue_frame(InterruptionFrame())
        await stream.worker.queue_frame(BotPauseFrame())
        await asyncio.sleep(0.2)
        await stream.worker.queue_frame(BotResumeFrame())
        await asyncio.sleep(1.0)
    assert 1.5 <= stream.heard_secs <= 1.7, f"heard {stream.heard_secs:.2f} s: the cut reply again"
