"""Caller audio for simulated calls: speech from espeak-ng or a WAV file, as 8 kHz mu-law."""

from __future__ import annotations

import audioop
import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import soundfile
import soxr

from voice.espeak import espeak_voice

RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law, the size Twilio sends
SILENCE = b"\xff"  # mu-law zero


class CallerAudioError(RuntimeError):
    """The caller's speech could not be produced (missing espeak-ng, unreadable WAV)."""


def _trim_silence(samples: np.ndarray, rate: int, threshold: float = 0.01) -> np.ndarray:
    """Cut leading and trailing silence, so the first and last frames are speech."""
    window = max(1, rate // 100)
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples
    return samples[max(0, loud[0] - window) : loud[-1] + window]


def _to_ulaw(samples: np.ndarray, rate: int) -> bytes:
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    samples = _trim_silence(samples, rate)
    if rate != RATE:
        samples = soxr.resample(samples, rate, RATE)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return audioop.lin2ulaw(pcm, 2)


def caller_voice(language: str) -> str:
    """The espeak-ng voice of a simulated caller speaking ``language`` (``en``, ``es``, ``es-MX``).

    Raises:
        CallerAudioError: espeak-ng has no voice for it (or is not installed).
    """
    if language.lower() in ("en", "en-us"):
        return "en-us"
    voice = espeak_voice(language)
    if voice is None:
        raise CallerAudioError(
            f"espeak-ng has no voice for {language!r} (see espeak-ng --voices), or is not installed"
        )
    return voice.name


def speech_ulaw(text: str, *, voice: str = "en-us", words_per_minute: int = 165) -> bytes:
    """Synthesize a caller's line with espeak-ng, as 8 kHz mu-law."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise CallerAudioError(
            "espeak-ng is not installed (apt-get install espeak-ng), or pass --wav"
        )
    result = subprocess.run(
        [espeak, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise CallerAudioError(
            f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()}"
        )
    samples, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    return _to_ulaw(samples, rate)


def wav_ulaw(path: Path) -> bytes:
    """A WAV (or any file libsndfile reads) as 8 kHz mu-law."""
    try:
        samples, rate = soundfile.read(str(path), dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise CallerAudioError(f"cannot read {path}: {e}") from None
    return _to_ulaw(samples, rate)


def frames(ulaw: bytes) -> list[bytes]:
    """Split mu-law audio into 20 ms frames (the last one padded with silence)."""
    padded = ulaw + SILENCE * ((-len(ulaw)) % FRAME_BYTES)
    return [padded[i : i + FRAME_BYTES] for i in range(0, len(padded), FRAME_BYTES)]


def ulaw_energy(frame: bytes) -> float:
    """RMS of a mu-law frame, 0..32767."""
    return float(audioop.rms(audioop.ulaw2lin(frame, 2), 2))


def write_stereo_wav(path: Path, caller: bytes, heard: bytes) -> None:
    """Save a call as a 2-channel WAV: left what the caller said, right what they heard."""
    length = max(len(caller), len(heard))
    left = np.frombuffer(audioop.ulaw2lin(caller.ljust(length, SILENCE), 2), dtype="<i2")
    right = np.frombuffer(audioop.ulaw2lin(heard.ljust(length, SILENCE), 2), dtype="<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
