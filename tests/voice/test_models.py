"""Speech models: found where expected, clear errors when missing, inference off the event loop."""

from __future__ import annotations

import asyncio
import audioop
import time
from pathlib import Path

import numpy as np
import pytest
import soxr

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, SpeechModels, load_speech_models
from voice.model_files import ModelNotFoundError, packaged_file, piper_voice, whisper_dir


def test_defaults_come_from_pip_packages(tmp_path: Path):
    assert (whisper_dir("", tmp_path) / "model.bin").is_file()
    voice = piper_voice("", tmp_path)
    assert voice.name == "en_US-joe-medium.onnx" and voice.with_name(voice.name + ".json").is_file()


def test_missing_models_say_what_to_do(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match=r"whisper-small.*model.bin.*models"):
        whisper_dir("whisper-small", tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"es_ES-davefx-medium.*\.onnx\.json"):
        piper_voice("es_ES-davefx-medium", tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"pip install no-such-package"):
        packaged_file("no_such_package", "x", "no-such-package", "Test model")


def test_models_under_models_dir_are_found(tmp_path: Path):
    folder = tmp_path / "whisper-custom"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"")
    assert whisper_dir("whisper-custom", tmp_path) == folder
    (tmp_path / "my-voice.onnx").write_bytes(b"")
    (tmp_path / "my-voice.onnx.json").write_text("{}")
    assert piper_voice("my-voice", tmp_path) == tmp_path / "my-voice.onnx"


@pytest.fixture(scope="module")
def models() -> SpeechModels:
    return load_speech_models(SpeechConfig(models_dir=Path("models")))


def _phone_audio(text: str) -> np.ndarray:
    pcm = (
        np.frombuffer(audioop.ulaw2lin(speech_ulaw(text), 2), dtype=np.int16).astype(np.float32)
        / 32768
    )
    return soxr.resample(pcm, 8000, 16000).astype(np.float32)


def test_whisper_transcribes_phone_audio(models: SpeechModels):
    text = " ".join(
        t for t, _ in models.whisper.transcribe(_phone_audio("Yes, three pm works for me."), "en")
    )
    assert "works for me" in text.lower()


def test_piper_speaks(models: SpeechModels):
    chunks = list(models.voice().synthesize("Thanks for calling."))
    audio = b"".join(c.audio_int16_bytes for c in chunks)
    assert chunks[0].sample_rate == 22050 and len(audio) / 2 / 22050 > 0.5


def test_voices_load_once(models: SpeechModels):
    assert models.voice() is models.voice(models.default_voice)


async def test_transcription_does_not_block_the_event_loop(models: SpeechModels):
    """The loop keeps ticking while Whisper runs in a worker thread."""
    audio = _phone_audio("I would like to book an appointment.")
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await asyncio.to_thread(models.whisper.transcribe, audio, "en")
    elapsed = time.monotonic() - started
    task.cancel()
    assert ticks >= elapsed / 0.01 * 0.3


def test_an_assistant_in_another_language_is_told_which_files_to_place(models: SpeechModels):
    with pytest.raises(ModelNotFoundError) as error:
        models.choose(language="es", whisper_model="whisper-small", voice_id="es_ES-davefx-medium")
    assert "models/whisper-small" in str(error.value) and "es_ES-davefx-medium.onnx.json" in str(
        error.value
    )
    with pytest.raises(
        ModelNotFoundError, match="'tiny.en' is English-only, so it would mis-hear callers"
    ):
        models.choose(language="es", whisper_model="", voice_id="")
    english = models.choose(language="en", whisper_model="", voice_id="")
    assert english.whisper is models.whisper and english.voice == models.default_voice
