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


async def _served(
    first: tuple[str, float], then: tuple[str, float], pause: float = 0.0
) -> list[str]:
    """The order one busy thread serves two steps in: (name, seconds ahead) each, ``then``
    queued ``pause`` seconds after ``first``."""
    pool = SynthesisPool(workers=1)
    release, ran = threading.Event(), []
    try:
        busy = asyncio.ensure_future(pool.run(release.wait))  # the next two queue up
        steps = [asyncio.ensure_future(pool.run(lambda n=first[0]: ran.append(n), first[1]))]
        await asyncio.sleep(pause)
        steps.append(asyncio.ensure_future(pool.run(lambda n=then[0]: ran.append(n), then[1])))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(busy, *steps)
        return ran
    finally:
        pool.close()


async def test_a_waiting_caller_goes_ahead_of_audio_far_ahead_of_playback():
    assert await _served(("5 s ahead", 5.0), ("waiting", 0.0)) == ["waiting", "5 s ahead"]


async def test_audio_ahead_of_playback_is_served_once_it_is_due():
    """Later first sentences of other calls do not pass a sentence whose time has come."""
    # 0.15 s later its caller has heard everything before it
    assert await _served(("due", 0.05), ("new", 0.0), pause=0.15) == ["due", "new"]


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
