"""The window decoder on the real tiny.en model: fragments that are not words give no text."""

from __future__ import annotations

import audioop
from pathlib import Path

import numpy as np
import pytest
import soxr

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, WhisperEngine, _load_whisper
from voice.model_files import whisper_dir
from voice.whisper_windows import (
    COMPRESSION_RATIO_THRESHOLD,
    NO_SPEECH_THRESHOLD,
    Piece,
    WindowDecoder,
)

RATE = 16000
# A phone menu's answer, as the e2e phone-menu call speaks it.
MENU = "Sales, how can I help you?"


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    config = SpeechConfig(models_dir=Path("models"))
    return _load_whisper(whisper_dir("", config.models_dir), config, "tiny.en")


def _audio(line: str) -> np.ndarray:
    pcm = np.frombuffer(audioop.ulaw2lin(speech_ulaw(line), 2), dtype=np.int16)
    return soxr.resample(pcm.astype(np.float32) / 32768, 8000, RATE).astype(np.float32)


def test_fragments_that_are_not_words_give_no_text_and_speech_beside_them_does(
    engine: WhisperEngine,
):
    """A burst of line noise and a clipped word Whisper decodes as a loop give no text.

    Greedy decoding heard the clipped word as "mail mail mail ..." with a no-speech
    probability under 0.6: faster-whisper's compression-ratio rule drops it. A sentence
    decoded in the same batch is still heard, and each text goes back to its own piece.
    """
    noise = np.random.default_rng(0).normal(0, 0.1, int(0.3 * RATE)).astype(np.float32)
    looping = _audio(MENU)[int(0.1 * RATE) : int(0.48 * RATE)]  # 0.38 s: "ales" without "S"
    sentence = _audio("Please cancel my subscription.")
    decoder = WindowDecoder(engine.model, engine.multilingual)
    batch = [Piece(noise, "en"), Piece(sentence, "en"), Piece(looping, "en")]

    stuck = decoder.decode(batch)[2]
    assert stuck.text and stuck.compression_ratio > COMPRESSION_RATIO_THRESHOLD, stuck
    assert stuck.no_speech_prob < NO_SPEECH_THRESHOLD, "not dropped as silence"

    texts = [text for text, _ in decoder(batch)]
    assert texts[0] == "" and texts[2] == "", texts
    assert "subscription" in texts[1].lower(), texts


def test_a_looping_fragment_comes_back_from_the_pool_as_no_text(engine: WhisperEngine):
    """Through the pool, as calls use it; the whole sentence the fragment was cut from is heard."""
    menu = _audio(MENU)
    assert [
        text for text, _ in engine.transcribe(menu[int(0.1 * RATE) : int(0.48 * RATE)], "en")
    ] == [""]
    whole = " ".join(text for text, _ in engine.transcribe(menu, "en")).lower()
    assert "how can" in whole, whole
