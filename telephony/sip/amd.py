"""Answering-machine detection on the called party's audio, for trunks that offer none.

A person answers with a short word or two ("Hello?") and then waits; a machine
plays a greeting of several seconds, often ending in a beep. The detector reads
20 ms frames of 8 kHz PCM as they arrive and says which, in Twilio's terms
(``AnsweredBy`` of ``DetectMessageEnd``): ``human``, ``unknown`` (nothing to go by:
silence, or talk that fits neither), or, once the greeting is over, so a message
left then is recorded whole, ``machine_end_beep`` / ``machine_end_silence`` /
``machine_end_other``. It judges loudness and timing only (and the beep's pure
tone), like the carriers' own detectors; a person who answers with a long
sentence is taken for a machine, and a machine with a one-word greeting for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_SECS = 0.02
RATE = 8000


@dataclass(frozen=True)
class AmdSettings:
    """The detector's thresholds (Asterisk's ``app_amd`` defaults, with a longer greeting).

    Parameters:
        speech_rms: A frame louder than this (16-bit RMS, about -40 dBFS) is sound.
        initial_silence_secs: Silence this long before any sound: ``unknown``.
        max_human_greeting_secs: Sound (pauses under ``greeting_pause_secs`` included)
            longer than this is a machine's greeting.
        greeting_pause_secs: A pause this long after a short greeting: ``human``.
        message_end_silence_secs: Silence this long after a machine's greeting: its end.
        beep_secs: A pure tone this long is a machine's beep.
        analysis_secs: Undecided after this long: ``unknown``.
        max_greeting_secs: A machine still talking after this long: ``machine_end_other``.
    """

    speech_rms: float = 300.0
    initial_silence_secs: float = 4.0
    max_human_greeting_secs: float = 2.4
    greeting_pause_secs: float = 0.8
    message_end_silence_secs: float = 1.2
    beep_secs: float = 0.2
    analysis_secs: float = 6.0
    max_greeting_secs: float = 30.0


def is_tone(frame: np.ndarray) -> bool:
    """Whether a frame is one pure tone in the band beeps use (400-2600 Hz)."""
    spectrum = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
    total = spectrum.sum()
    if total <= 0:
        return False
    peak = int(spectrum.argmax())
    hz = peak * RATE / len(frame)
    near = spectrum[max(peak - 2, 0) : peak + 3].sum()  # the peak and its window's spread
    return 400 <= hz <= 2600 and near / total > 0.85


class MachineDetector:
    """Says who answered, from the audio alone; feed it every frame from the answer on."""

    def __init__(self, settings: AmdSettings | None = None):
        """Start listening at the answer."""
        self.settings = settings or AmdSettings()
        self.verdict: str | None = None  # the last thing said (``machine`` while it talks)
        self._frames = 0
        self._first_sound: int | None = None
        self._last_sound: int | None = None
        self._tone_frames = 0
        self._machine = False

    def _secs(self, frames: int) -> float:
        return frames * FRAME_SECS

    def feed(self, pcm: bytes) -> str | None:
        """One 20 ms frame of 8 kHz 16-bit PCM; returns a verdict once, when it is reached."""
        if self.verdict is not None and not self._machine:
            return None
        samples = np.frombuffer(pcm, "<i2").astype(np.float64)
        self._frames += 1
        loud = bool(len(samples)) and float(np.sqrt((samples**2).mean())) > self.settings.speech_rms
        beep = self._beep(samples, loud)
        if loud:
            self._first_sound = self._first_sound if self._first_sound is not None else self._frames
            self._last_sound = self._frames
        if self._machine:
            return self._message_end(beep)
        return self._judge(beep)

    def _beep(self, samples: np.ndarray, loud: bool) -> bool:
        """True on the first frame after a pure tone of at least ``beep_secs`` (its end)."""
        if loud and is_tone(samples):
            self._tone_frames += 1
            return False
        was_beep = self._secs(self._tone_frames) >= self.settings.beep_secs
        self._tone_frames = 0
        return was_beep

    def _judge(self, beep: bool) -> str | None:
        settings, now = self.settings, self._frames
        if beep:
            return self._say("machine_end_beep")  # a beep already: the greeting is over
        if self._first_sound is None:
            if self._secs(now) >= settings.initial_silence_secs:
                return self._say("unknown")
            return None
        assert self._last_sound is not None
        talked = self._secs(self._last_sound - self._first_sound + 1)
        quiet = self._secs(now - self._last_sound)
        if talked > settings.max_human_greeting_secs:
            self._machine, self.verdict = True, "machine"
            return None
        if quiet >= settings.greeting_pause_secs:
            return self._say("human")
        if self._secs(now) >= settings.analysis_secs:
            return self._say("unknown")
        return None

    def _message_end(self, beep: bool) -> str | None:
        settings = self.settings
        assert self._last_sound is not None and self._first_sound is not None
        if beep:
            return self._say("machine_end_beep")
        if self._secs(self._frames - self._last_sound) >= settings.message_end_silence_secs:
            return self._say("machine_end_silence")
        if self._secs(self._frames - self._first_sound) >= settings.max_greeting_secs:
            return self._say("machine_end_other")
        return None

    def _say(self, verdict: str) -> str:
        self._machine = False
        self.verdict = verdict
        return verdict
