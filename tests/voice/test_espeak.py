"""espeak-ng as a call's voice: streamed like Piper, marked by sentence, stopped by a barge-in."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    InterruptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from voice.espeak import EspeakSynthesizer, EspeakTTSService, EspeakVoice, espeak_voice
from voice.tts import speak_whole

PHONE = PipelineParams(audio_out_sample_rate=8000)
# About 20 minutes of speech: far more than espeak-ng writes before a barge-in reaches it.
LONG = " ".join(["Le cuento las opciones de apartamentos y villas frente al mar."] * 300)


def espeak_children() -> list[int]:
    """espeak-ng processes this test process started and that are still there."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended meanwhile
        name, rest = text[text.index("(") + 1 :].rsplit(") ", 1)
        if name == "espeak-ng" and int(rest.split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_each_language_gets_espeak_ngs_own_voice():
    assert espeak_voice("es") == EspeakVoice("es")
    assert espeak_voice("es-MX") == espeak_voice("es-AR") == EspeakVoice("es-419")
    assert espeak_voice("zz") is None


async def test_a_sentence_is_spoken_at_the_call_rate_with_its_text_for_the_marks():
    tts = EspeakTTSService(voice=EspeakVoice("es"))
    down, up = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame("Hola, soy Sofía. ¿En qué puedo ayudarle?"), SleepFrame(1)],
        pipeline_params=PHONE,
    )
    kinds = [type(f) for f in down]
    assert TTSStartedFrame in kinds and TTSStoppedFrame in kinds
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert len(audio) > 5 and {f.sample_rate for f in audio} == {8000}, "streamed, at 8 kHz"
    assert sum(len(f.audio) for f in audio) / 2 / 8000 > 1.5
    assert [f.text for f in down if isinstance(f, TTSTextFrame)] == [
        "Hola, soy Sofía. ¿En qué puedo ayudarle?"
    ]
    assert not [f for f in up if isinstance(f, ErrorFrame)]


async def test_a_barge_in_stops_espeak_at_once():
    tts = EspeakTTSService(voice=EspeakVoice("es"))
    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame(LONG), SleepFrame(0.2), InterruptionFrame(), SleepFrame(0.3)],
        pipeline_params=PHONE,
    )
    heard = sum(len(f.audio) for f in down if isinstance(f, TTSAudioRawFrame)) / 2 / 8000
    assert 0 < heard < 300, f"{heard:.0f}s of audio: the rest of the text was never spoken"
    assert not espeak_children(), "the interrupted espeak-ng process is gone"


async def test_a_line_said_whole_comes_at_the_asked_rate_without_its_wav_header():
    pcm = await speak_whole(EspeakSynthesizer(EspeakVoice("en-us")), "You have a call.", 8000)

    assert not pcm.startswith(b"RIFF") and len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, "<i2").astype(float)
    assert 0.5 < len(samples) / 8000 < 3.0, "about a second of speech at 8 kHz"
    assert np.sqrt((samples**2).mean()) > 300, "and it is not silence"
