"""Benchmark: how long after a phone caller's first sound our VAD says they are speaking.

    python bench/vad_onset.py

Each line (espeak-ng, 8 kHz mu-law as a phone line sends it) follows 1 s of digital
silence (a SIP caller's quiet line) or of line hiss, and goes to the call's Silero VAD
(``voice.turns``) 20 ms at a time, upsampled to 16 kHz by pipecat's stream resampler
(what SIP calls used before) or by ``voice.upsampling.FrameUpsampler``. Prints, per
resampler and line, the milliseconds of audio from the first sound to ``SPEAKING``: the
part of a barge-in's cut-off the VAD costs (``vad_start_secs`` of it is by design).
"""

from __future__ import annotations

import asyncio
import audioop
from pathlib import Path

import numpy as np
from pipecat.audio.utils import create_stream_resampler
from pipecat.audio.vad.vad_analyzer import VADState

from telephony.simulator.caller_audio import speech_ulaw
from voice.engines import SpeechConfig, load_speech_models
from voice.turns import TurnTaking, vad_analyzer
from voice.upsampling import FrameUpsampler

LINES = ("Wait, no.", "Do you have anything in the morning?", "Can I talk to a person please?")
FRAME = 320  # bytes: 20 ms of 8 kHz 16-bit PCM


async def onset_ms(pool, resampler, before: bytes, text: str) -> int | None:
    line = audioop.ulaw2lin(speech_ulaw(text), 2)
    levels = np.sqrt(np.frombuffer(line[: len(line) // FRAME * FRAME], "<i2").astype(float) ** 2)
    first = int(np.argmax(levels.reshape(-1, FRAME // 2).mean(axis=1) > 200**2))
    vad = vad_analyzer(pool, TurnTaking())
    vad.set_sample_rate(16000)
    audio = before + line
    for frame, at in enumerate(range(0, len(audio) - FRAME + 1, FRAME)):
        state = await vad.analyze_audio(
            await resampler.resample(audio[at : at + FRAME], 8000, 16000)
        )
        if state == VADState.SPEAKING:
            return (frame + 1 - len(before) // FRAME - first) * 20
    return None


async def main() -> None:
    pool = load_speech_models(SpeechConfig(models_dir=Path("models"))).vad
    hiss = np.random.default_rng(1).normal(0, 30, 8000).astype("<i2").tobytes()
    for name, make in (
        ("pipecat stream", create_stream_resampler),
        ("frame upsampler", FrameUpsampler),
    ):
        for quiet, before in (("digital silence", bytes(16000)), ("line hiss", hiss)):
            onsets = [await onset_ms(pool, make(), before, text) for text in LINES]
            print(f"{name:16} after {quiet:15}: first sound -> VAD speaking {onsets} ms")


if __name__ == "__main__":
    asyncio.run(main())
