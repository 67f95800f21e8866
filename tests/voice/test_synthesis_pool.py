"""Synthesis shared by all calls: a waiting caller is served before audio far ahead of playback."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from piper import PiperVoice

from voice.model_files import piper_voice
from voice.synthesis_pool import SynthesisPool
from voice.tts import PiperSynthesizer

LONG_REPLY = (
    "We are open from nine in the morning until six in the evening on weekdays. "
    "On Saturdays we open at ten and close at two in the afternoon. "
    "We offer cleanings, check ups, whitening and emergency visits. "
    "Parking is free behind the building."
)


async def test_a_waiting_caller_goes_ahead_of_audio_far_ahead_of_playback():
    pool = SynthesisPool(workers=1)
    release, ran = threading.Event(), []
    try:
        busy = pool.run(release.wait)  # the only thread is busy: the next two queue up
        task = asyncio.ensure_future(busy)
        far = asyncio.ensure_future(pool.run(lambda: ran.append("5 s ahead"), ahead_secs=5.0))
        waiting = asyncio.ensure_future(pool.run(lambda: ran.append("waiting"), ahead_secs=0.0))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(task, far, waiting)
        assert ran == ["waiting", "5 s ahead"]
    finally:
        pool.close()


async def test_one_calls_long_reply_does_not_hold_up_another_calls_first_sentence():
    voice = PiperVoice.load(str(piper_voice("", Path("models"))))
    pool = SynthesisPool(workers=1)  # the worst case: one thread for both calls
    events: list[str] = []

    async def speak(name: str, text: str, ahead: float) -> None:
        async for _ in PiperSynthesizer(voice, "joe", pool=pool).chunks(text, lambda: ahead):
            events.append(name)

    try:
        long_reply = asyncio.ensure_future(speak("reading ahead", LONG_REPLY, ahead=4.0))
        while not events:  # its first sentence is out; the rest is seconds ahead of playback
            await asyncio.sleep(0.005)
        await asyncio.gather(long_reply, speak("waiting", "Yes, of course.", ahead=0.0))
    finally:
        pool.close()
    assert events.count("reading ahead") == 4
    assert events.index("waiting") < len(events) - 1, events
    assert events.index("waiting") <= 2, f"served after at most one more sentence: {events}"


async def test_audio_ahead_of_playback_is_served_once_it_is_due():
    """Later first sentences of other calls do not pass a sentence whose time has come."""
    pool = SynthesisPool(workers=1)
    release, ran = threading.Event(), []
    try:
        busy = asyncio.ensure_future(pool.run(release.wait))
        ahead = asyncio.ensure_future(pool.run(lambda: ran.append("due"), ahead_secs=0.05))
        await asyncio.sleep(0.15)  # its caller has now heard everything before it
        waiting = asyncio.ensure_future(pool.run(lambda: ran.append("new"), ahead_secs=0.0))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(busy, ahead, waiting)
        assert ran == ["due", "new"]
    finally:
        pool.close()
