"""Turn-taking on the real smart-turn model: a caller whose words come late still gets an answer."""

from __future__ import annotations

import asyncio
import audioop
import time
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    TextFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.utils.time import time_now_iso8601

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, load_speech_models
from voice.turns import TurnTaking, user_turn_params, vad_analyzer
from voice.upsampling import FrameUpsampler
from voice.vad_pool import VADPool

RATE = 16000
QUESTION = "What are your opening hours on Saturday?"
CALL_GOES_ON = "(the call goes on)"


@pytest.fixture(scope="module")
def models():
    return load_speech_models(SpeechConfig(models_dir=Path("models")))


@pytest.fixture(scope="module")
def smart_turn(models) -> onnxruntime.InferenceSession:
    return models.smart_turn


def _caller_speaks(secs: float, after: float = 0.0) -> list:
    """The bot's greeting played out, then the caller speaks for ``secs``, ``after`` seconds
    from now (the frames' timestamps: the turn strategies' STT deadline counts from them)."""
    now = time.time() + after
    chunk = bytes(RATE // 50 * 2)  # the audio's content does not matter here: VAD said speech
    return [
        BotStartedSpeakingFrame(),
        BotStoppedSpeakingFrame(),
        VADUserStartedSpeakingFrame(start_secs=0.15, timestamp=now),
        *[InputAudioRawFrame(chunk, RATE, 1) for _ in range(int(secs * 50))],
        VADUserStoppedSpeakingFrame(stop_secs=0.2, timestamp=now + secs),
    ]


def _transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "", time_now_iso8601(), finalized=True)


def _late(text: str, *then) -> list:
    """The caller speaks; the turn's watchdog (0.5 s) ends it empty before their words
    (``text``) arrive; then ``then``."""
    return [*_caller_speaks(1.0), SleepFrame(sleep=1.5), _transcript(text), *then]


async def _llm_runs(smart_turn, turns: TurnTaking, frames: list) -> list[LLMContextFrame]:
    context = LLMContext()
    user = LLMContextAggregatorPair(context, user_params=user_turn_params(smart_turn, turns)).user()
    # The end of a call flushes what the caller said to the LLM anyway: only runs before
    # the marker are answers.
    down, _ = await run_test(user, frames_to_send=[*frames, TextFrame(CALL_GOES_ON)])
    answered = down[: next(i for i, f in enumerate(down) if getattr(f, "text", "") == CALL_GOES_ON)]
    return [f for f in answered if isinstance(f, LLMContextFrame)]


async def test_a_transcription_later_than_the_turn_watchdog_is_still_answered(smart_turn):
    """The STT was slower than the turn's stop timeout: the turn ended without words."""
    turns = TurnTaking(stop_timeout_secs=0.5)  # the 5 s default, scaled down for the test
    runs = await _llm_runs(smart_turn, turns, _late(QUESTION, SleepFrame(sleep=0.5)))
    assert len(runs) == 1, "the late words are answered, once"
    assert runs[0].context.messages[-1]["content"] == QUESTION


async def test_late_words_that_trail_off_wait_for_the_caller_to_go_on(smart_turn):
    """Words that came after the turn ended, and do not read finished, wait the longest
    pause: the caller who goes on in it is answered once, on all their words."""
    turns = TurnTaking(stop_timeout_secs=0.5)
    runs = await _llm_runs(
        smart_turn,
        turns,
        _late(
            "Please book it for",
            SleepFrame(sleep=0.3),
            *_caller_speaks(0.8, after=2.8),
            SleepFrame(sleep=0.1),
            _transcript("ten o'clock."),
            SleepFrame(sleep=1.5),
        ),
    )
    assert len(runs) == 1, runs[-1].context.messages
    assert runs[0].context.messages[-1]["content"] == "Please book it for ten o'clock."


async def test_late_words_that_trail_off_are_answered_after_the_pause(smart_turn):
    turns = TurnTaking(stop_timeout_secs=0.5, max_pause_secs=0.5)
    runs = await _llm_runs(smart_turn, turns, _late("Please book it for", SleepFrame(sleep=0.2)))
    assert not runs, "not before the pause"
    runs = await _llm_runs(smart_turn, turns, _late("Please book it for", SleepFrame(sleep=0.8)))
    assert len(runs) == 1 and runs[0].context.messages[-1]["content"] == "Please book it for"


async def test_words_in_time_are_answered_once(smart_turn):
    runs = await _llm_runs(
        smart_turn,
        TurnTaking(),
        [*_caller_speaks(1.0), SleepFrame(sleep=0.3), _transcript(QUESTION), SleepFrame(sleep=2.5)],
    )
    assert len(runs) == 1 and runs[0].context.messages[-1]["content"] == QUESTION


async def _frames_until_speaking(pool: VADPool, before: bytes) -> int:
    """20 ms phone frames of a spoken line, after ``before``, until the VAD says speaking."""
    line = audioop.ulaw2lin(speech_ulaw("Wait, I would like to book for Tuesday."), 2)
    vad, upsample = vad_analyzer(pool, TurnTaking()), FrameUpsampler()
    vad.set_sample_rate(RATE)
    for at in range(0, len(before), 320):
        await _hear(vad, await upsample.resample(before[at : at + 320], 8000, RATE))
    for frame, at in enumerate(range(0, len(line) - 319, 320), 1):
        if await _hear(vad, await upsample.resample(line[at : at + 320], 8000, RATE)) == (
            VADState.SPEAKING
        ):
            return frame
    raise AssertionError("the VAD never heard the line")


async def _hear(vad, frame: bytes) -> VADState:
    """One frame to the VAD, once the pool has scored the last (a frame's score counts
    from the next frame on: on a server the next comes 20 ms later)."""
    while vad._in_pool:
        await asyncio.sleep(0.001)
    return await vad.analyze_audio(frame)


async def test_speech_after_digital_silence_is_heard_as_soon_as_after_line_hiss(models):
    """The volume gate rises at once: silence before the words does not hold them back."""
    hiss = np.random.default_rng(7).normal(0, 30, 8000).astype("<i2").tobytes()
    after_hiss = await _frames_until_speaking(models.vad, hiss)
    after_silence = await _frames_until_speaking(models.vad, bytes(16000))
    assert after_silence <= after_hiss + 1, (after_silence, after_hiss)


async def test_calls_at_once_each_hear_their_own_line_with_the_vad_off_the_event_loop(models):
    """Eight calls' VAD on the shared pool: each hears its caller start and stop, as one
    call alone does, and no window is scored on a thread of the call's own."""
    line = audioop.ulaw2lin(speech_ulaw("Hello there."), 2) + bytes(16000)
    loud = [line, bytes(len(line))] * 4  # half the calls hear the line, half silence

    async def call(audio: bytes) -> tuple[list[VADState], object]:
        vad, upsample = vad_analyzer(models.vad, TurnTaking()), FrameUpsampler()
        vad.set_sample_rate(RATE)
        states = []
        for at in range(0, len(audio) - 319, 320):
            frame = await upsample.resample(audio[at : at + 320], 8000, RATE)
            states.append(await vad.analyze_audio(frame))
            await asyncio.sleep(0.002)  # the calls' frames interleave, as on a server
        return states, vad

    windows_before = models.vad.windows
    results = await asyncio.gather(*(call(audio) for audio in loud))
    for (states, vad), audio in zip(results, loud, strict=True):
        heard = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
        if audio == line:
            assert VADState.SPEAKING in heard and heard[-1] == VADState.QUIET, heard
        else:
            assert heard == [VADState.QUIET], heard
        assert not vad._executor._threads  # pipecat's per-call VAD thread was never started
    # Every window reaches the pool: the last ones of each call may still be in it (a
    # busy box), so wait for them rather than read the count at once.
    every_window = 8 * (len(line) // 2 // 256)
    deadline = time.monotonic() + 5
    while models.vad.windows - windows_before < every_window:
        assert time.monotonic() < deadline, (models.vad.windows - windows_before, every_window)
        await asyncio.sleep(0.02)
