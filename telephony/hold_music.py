"""What a caller held for an agent hears between lines: a soft chime, every carrier the same."""

from __future__ import annotations

import io
import math
import struct
import wave
from functools import cache

RATE = 8000  # telephone rate: Twilio plays the WAV, SIP sends the PCM as it is


@cache
def hold_chime() -> bytes:
    """Four seconds of a soft two-note chime and quiet, 8 kHz 16-bit mono PCM: not silence."""
    samples = []
    for i in range(RATE * 4):
        t = i / RATE
        note = 523.25 if t < 0.6 else 659.25 if t < 1.2 else 0.0
        fade = math.exp(-3 * (t % 0.6)) if note else 0.0
        samples.append(int(6000 * fade * math.sin(2 * math.pi * note * t)))
    return struct.pack(f"<{len(samples)}h", *samples)


@cache
def hold_music() -> bytes:
    """The chime as a WAV file (what Twilio fetches)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(hold_chime())
    return out.getvalue()
