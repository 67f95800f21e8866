"""The Whisper pool all calls share: batches across calls, answers each call, urgent first."""

from __future__ import annotations

import audioop
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import soxr

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, WhisperEngine, _load_whisper
from voice.model_files import whisper_dir
from voice.whisper_pool import WhisperPool
from voice.whisper_windows import WindowDecoder

FIRST_CALL = "I would like to book an appointment for next Tuesday."
SECOND_CALL = "Please cancel my subscription."
LONG = [
    "My name is John Smith and I live on Maple Street.",
    "Please call me back on Friday afternoon if that does not work.",
    "Thank you so much for your help today.",
]


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    config = SpeechConfig(models_dir=Path("models"))
    return _load_whisper(whisper_dir("", config.models_dir), config, "tiny.en")


def _audio(*lines: str) -> np.ndarray:
    ulaw = (b"\xff" * 2400).join(speech_ulaw(line) for line in lines)
    pcm = np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype=np.int16).astype(np.float32) / 32768
    return soxr.resample(pcm, 8000, 16000).astype(np.float32)


def _text(future: Future) -> str:
    return " ".join(text for text, _ in future.result(timeout=30)).lower()


def _busy(pool: WhisperPool) -> None:
    """Give the pool's worker a long transcription and wait until it has taken all of it."""
    pool.submit(_audio(*LONG), "en")
    deadline = time.monotonic() + 10
    while pool.pending and time.monotonic() < deadline:
        time.sleep(0.001)


def test_two_calls_speech_shares_one_pass_and_comes_back_to_each_call(engine: WhisperEngine):
    pool = WhisperPool(WindowDecoder(engine.model, engine.multilingual))
    first, second = _audio(FIRST_CALL), _audio(SECOND_CALL)
    try:
        _busy(pool)
        # Both calls' callers stop talking while the worker is busy: one pass for both.
        heard_first, heard_second = pool.submit(first, "en"), pool.submit(second, "en")
        assert "next tuesday" in _text(heard_first)
        assert "subscription" in _text(heard_second) and "tuesday" not in _text(heard_second)
        assert pool.stats.batch_sizes[-1] == 2, pool.stats
    finally:
        pool.close()


def test_a_caller_waiting_for_an_answer_goes_ahead_of_background_work(engine: WhisperEngine):
    pool = WhisperPool(WindowDecoder(engine.model, engine.multilingual), max_batch=1)
    done: list[str] = []
    try:
        _busy(pool)
        background = pool.submit(_audio(FIRST_CALL), "en", urgent=False)
        waiting = pool.submit(_audio(SECOND_CALL), "en", urgent=True)
        background.add_done_callback(lambda _: done.append("background"))
        waiting.add_done_callback(lambda _: done.append("end of turn"))
        background.result(timeout=30), waiting.result(timeout=30)
        assert done == ["end of turn", "background"]
    finally:
        pool.close()


def test_a_cancelled_transcription_is_never_decoded(engine: WhisperEngine):
    pool = WhisperPool(WindowDecoder(engine.model, engine.multilingual))
    try:
        _busy(pool)
        dropped = pool.submit(_audio(FIRST_CALL), "en")
        dropped.cancel()
        kept = pool.submit(_audio(SECOND_CALL), "en")
        assert "subscription" in _text(kept)
        assert pool.stats.batch_sizes[-1] == 1 and pool.stats.requests == 3
    finally:
        pool.close()


def test_the_engine_transcribes_through_its_pool(engine: WhisperEngine):
    before = engine.pool.stats.requests
    text = " ".join(t for t, _ in engine.transcribe(_audio(FIRST_CALL), "en")).lower()
    assert "next tuesday" in text and engine.pool.stats.requests == before + 1
