"""Turn-taking on the real smart-turn model: a caller whose words come late still gets an answer."""

from __future__ import annotations

import time
from pathlib import Path

import onnxruntime
import pytest
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

from voice.engines import SpeechConfig, load_speech_models
from voice.turns import TurnTaking, user_turn_params

RATE = 16000
QUESTION = "What are your opening hours on Saturday?"
CALL_GOES_ON = "(the call goes on)"


@pytest.fixture(scope="module")
def smart_turn() -> onnxruntime.InferenceSession:
    return load_speech_models(SpeechConfig(models_dir=Path("models"))).smart_turn


def _caller_speaks(secs: float) -> list:
    """The bot's greeting played out, then the caller speaks for ``secs``."""
    now = time.time()
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
    runs = await _llm_runs(
        smart_turn,
        turns,
        [
            *_caller_speaks(1.0),
            SleepFrame(sleep=1.5),  # past the watchdog: the turn ends empty
            _transcript(QUESTION),  # ...and the caller's words arrive
            SleepFrame(sleep=0.5),
        ],
    )
    assert len(runs) == 1, "the late words are answered, once"
    assert runs[0].context.messages[-1]["content"] == QUESTION


async def test_words_in_time_are_answered_once(smart_turn):
    runs = await _llm_runs(
        smart_turn,
        TurnTaking(),
        [*_caller_speaks(1.0), SleepFrame(sleep=0.3), _transcript(QUESTION), SleepFrame(sleep=2.5)],
    )
    assert len(runs) == 1 and runs[0].context.messages[-1]["content"] == QUESTION
