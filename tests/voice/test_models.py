"""Speech models: found where expected, clear errors when missing, inference off the event loop."""

from __future__ import annotations

import asyncio
import audioop
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soxr

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, SpeechModels, load_speech_models
from voice.espeak import EspeakVoice
from voice.languages import LanguageDetector
from voice.model_files import (
    ModelNotFoundError,
    language_piper_voice,
    packaged_file,
    piper_voice,
    whisper_dir,
)


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
def models(tmp_path_factory) -> SpeechModels:
    """The defaults, with an empty models/ folder (whatever a developer placed in theirs)."""
    return load_speech_models(SpeechConfig(models_dir=tmp_path_factory.mktemp("models")))


def _phone_audio(text: str, voice: str = "en-us") -> np.ndarray:
    ulaw = speech_ulaw(text, voice=voice)
    pcm = np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype=np.int16).astype(np.float32) / 32768
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


def test_piper_runs_on_one_thread(models: SpeechModels):
    """Beside other calls' speech, a run split over threads waits for the preempted one."""
    options = models.voice().session.get_session_options()
    assert options.intra_op_num_threads == 1


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


def test_models_an_assistant_names_must_be_in_place(models: SpeechModels, tmp_path: Path):
    with pytest.raises(ModelNotFoundError) as error:
        models.choose(language="es", whisper_model="whisper-small", voice_id="es_ES-davefx-medium")
    message = str(error.value)
    assert str(models.config.models_dir / "whisper-small") in message
    assert "es_ES-davefx-medium.onnx.json" in message
    english_only = tmp_path / "tiny-en-copy"
    english_only.symlink_to(whisper_dir("", tmp_path))
    with pytest.raises(ModelNotFoundError, match="'tiny-en-copy' is English-only, so it would"):
        models.choose(language="es", whisper_model=str(english_only), voice_id="")
    english = models.choose(language="en", whisper_model="", voice_id="")
    assert english.whisper is models.whisper and english.voice == models.default_voice


def test_spanish_runs_on_the_packaged_models_and_a_piper_voice_placed_for_it(
    models: SpeechModels, tmp_path: Path
):
    spanish = models.choose(language="es", whisper_model="", voice_id="")
    assert spanish.whisper.multilingual and spanish.whisper.name == "base"
    assert spanish.voice == EspeakVoice("es")
    mexican = models.choose(language="es", whisper_model="", voice_id="", locale="es-MX")
    assert mexican.whisper is spanish.whisper and mexican.voice == EspeakVoice("es-419")

    # A Piper voice for the language in models/ wins over espeak-ng, its region first.
    (tmp_path / "es_ES-x-medium.onnx").write_bytes(b"")
    (tmp_path / "es_ES-x-medium.onnx.json").write_text("{}")
    (tmp_path / "es_MX-y-medium.onnx").symlink_to(models.default_voice)
    (tmp_path / "es_MX-y-medium.onnx.json").symlink_to(f"{models.default_voice}.json")
    assert language_piper_voice("es", tmp_path) == tmp_path / "es_ES-x-medium.onnx"
    placed = replace(models, config=replace(models.config, models_dir=tmp_path))
    assert placed.choose(language="es", whisper_model="", voice_id="", locale="es-MX").voice == (
        tmp_path / "es_MX-y-medium.onnx"
    )


def test_a_bilingual_call_hears_which_of_its_languages_the_caller_speaks(models: SpeechModels):
    bilingual = models.choose(language="multi", whisper_model="", voice_id="", locale="es-MX")
    assert bilingual.whisper.multilingual and bilingual.voice == EspeakVoice("es-419")
    detect = LanguageDetector(bilingual.whisper.model, ["en", "es-MX"])
    assert detect.codes == ("en", "es")
    spanish = detect(_phone_audio("Sí, estamos buscando algo para comprar.", voice="es"))
    english = detect(_phone_audio("Yes, three pm works for me."))
    assert (spanish.code, english.code) == ("es", "en")
    assert spanish.share > 0.5 and 0 < spanish.probability <= spanish.share
