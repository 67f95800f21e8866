"""The VAD pool: every call's windows on one thread, batched, each on its own model state."""

from __future__ import annotations

import asyncio
import audioop
from importlib import resources

import numpy as np
import pytest
from pipecat.audio.vad.silero import SileroOnnxModel

from telephony.simulator.caller_audio import speech_ulaw
from voice.vad_pool import VADPool

RATE = 16000
WINDOW = 512 * 2  # bytes of 16-bit PCM


@pytest.fixture(scope="module")
def model_path() -> str:
    return str(resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx"))


def _windows(text: str) -> list[bytes]:
    pcm = audioop.ratecv(audioop.ulaw2lin(speech_ulaw(text), 2), 2, 1, 8000, RATE, None)[0]
    return [pcm[at : at + WINDOW] for at in range(0, len(pcm) - WINDOW + 1, WINDOW)]


def _alone(path: str, windows: list[bytes]) -> list[float]:
    """pipecat's own model, scoring one call's windows one by one."""
    model = SileroOnnxModel(path)
    return [
        float(model(np.frombuffer(w, np.int16).astype(np.float32) / 32768.0, RATE)[0, 0])
        for w in windows
    ]


def _fresh(pool: VADPool) -> SileroOnnxModel:
    model = SileroOnnxModel.__new__(SileroOnnxModel)
    model.session, model.sample_rates = pool.session, [8000, 16000]
    model.reset_states()
    return model


async def test_two_calls_scored_in_the_same_runs_each_get_their_own_confidences(model_path):
    alone = SileroOnnxModel(model_path)
    pool = VADPool(alone.session)
    lines = [_windows("Hi, I would like to book an appointment."), _windows("No, thank you.")]
    loop = asyncio.get_running_loop()
    answers = [loop.create_future() for _ in lines]
    after = [[], []]
    try:
        for n, windows in enumerate(lines):  # the second goes in while the first is scored
            pool.submit(
                _fresh(pool),
                windows,
                RATE,
                after_window=after[n].append,
                done=lambda scores, f=answers[n]: loop.call_soon_threadsafe(f.set_result, scores),
            )
        scores = await asyncio.wait_for(asyncio.gather(*answers), 10)
    finally:
        pool.close()
    for n, windows in enumerate(lines):
        assert scores[n] == pytest.approx(_alone(model_path, windows), abs=1e-5)
        assert after[n] == scores[n]  # each window was reported as it was scored
        assert max(scores[n]) > 0.9  # speech, heard as speech
    assert pool.windows == sum(map(len, lines))
    assert pool.runs < pool.windows  # windows of both calls shared runs


async def test_a_call_ended_before_its_scores_came_back_does_not_stop_the_pool(model_path):
    pool = VADPool(SileroOnnxModel(model_path).session)
    loop = asyncio.get_running_loop()
    answered = loop.create_future()
    windows = _windows("Hello.")

    def gone(scores: list[float]) -> None:
        raise RuntimeError("Event loop is closed")

    try:
        pool.submit(_fresh(pool), windows, RATE, after_window=lambda c: None, done=gone)
        pool.submit(
            _fresh(pool),
            windows,
            RATE,
            after_window=lambda c: None,
            done=lambda scores: loop.call_soon_threadsafe(answered.set_result, scores),
        )
        assert len(await asyncio.wait_for(answered, 10)) == len(windows)
    finally:
        pool.close()
    with pytest.raises(RuntimeError):
        pool.submit(_fresh(pool), windows, RATE, after_window=lambda c: None, done=gone)
