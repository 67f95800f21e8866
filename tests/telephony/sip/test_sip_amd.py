"""Answering-machine detection on espeak-ng greetings: who answered, and when to leave a message."""

from __future__ import annotations

import audioop

import pytest

from telephony.simulator.caller_audio import speech_ulaw
from telephony.sip.amd import MachineDetector
from tests.telephony.sip.conftest import tone

GREETING = "Hi, you have reached Dana. I cannot take your call right now. Please leave a message."


def speech(text: str) -> bytes:
    return audioop.ulaw2lin(speech_ulaw(text), 2)


def silence(secs: float) -> bytes:
    return bytes(int(secs * 8000) * 2)


def verdicts(audio: bytes) -> list[tuple[str, float]]:
    """Every verdict the detector gives on ``audio``, with the second it came at."""
    detector, said = MachineDetector(), []
    for at in range(0, len(audio) - 319, 320):
        verdict = detector.feed(audio[at : at + 320])
        if verdict:
            said.append((verdict, at / 16000))
    return said


@pytest.mark.parametrize(
    "audio, expected",
    [
        (lambda: speech("Hello?") + silence(3), "human"),
        (lambda: speech("Hello, this is Dana.") + silence(3), "human"),
        (lambda: silence(6), "unknown"),
        (
            lambda: speech(GREETING) + silence(0.4) + tone(1000, 0.5) + silence(2),
            "machine_end_beep",
        ),
        (lambda: speech(GREETING) + silence(3), "machine_end_silence"),
    ],
    ids=["hello", "hello-and-name", "silence", "greeting-and-beep", "greeting-no-beep"],
)
def test_the_detector_tells_a_person_from_a_machine(audio, expected):
    assert [v for v, _ in verdicts(audio())] == [expected]


def test_a_machine_is_reported_once_its_greeting_is_over_not_while_it_talks():
    greeting = speech(GREETING)
    ((verdict, at),) = verdicts(greeting + silence(0.4) + tone(1000, 0.5) + silence(2))
    assert verdict == "machine_end_beep"
    assert at >= (len(greeting) + 0.4 * 16000 + 0.5 * 16000) / 16000 - 0.05  # the beep's end
