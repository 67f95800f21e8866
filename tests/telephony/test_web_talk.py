"""The Talk socket's wire format, and the terminal's playback (no sound card needed)."""

from __future__ import annotations

import json

import pytest
from pipecat.frames.frames import (
    EndTaskFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)

from telephony.web.serializer import BrowserAudioSerializer, MalformedMessage
from telephony.web.terminal import NoSoundCard, Playback, sound_device
from voice.frames import OutputPlaybackMarkFrame, PlaybackMarkFrame


async def test_the_browser_sends_pcm_marks_and_a_hang_up():
    serializer = BrowserAudioSerializer()
    audio = await serializer.deserialize(b"\x01\x00" * 320)
    assert isinstance(audio, InputAudioRawFrame) and audio.sample_rate == 16000
    mark = await serializer.deserialize(json.dumps({"type": "mark", "name": "s3"}))
    assert isinstance(mark, PlaybackMarkFrame) and mark.mark == "s3"
    assert await serializer.deserialize(json.dumps({"type": "dance"})) is None
    for bad in (b"\x01\x00\x02", b"\x00" * 40000, "{not json", "[1, 2]"):
        with pytest.raises(MalformedMessage):
            await serializer.deserialize(bad)
    assert not serializer.stopped
    assert isinstance(await serializer.deserialize('{"type": "hangup"}'), EndTaskFrame)
    assert serializer.stopped


async def test_the_page_gets_8khz_pcm_marks_and_clear():
    serializer = BrowserAudioSerializer()
    pcm = b"\x10\x00" * 160
    assert await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)) == pcm
    resampled = await serializer.serialize(OutputAudioRawFrame(b"\x10\x00" * 320, 16000, 1))
    assert len(resampled) == len(pcm), "any other rate is resampled to 8 kHz"
    assert json.loads(await serializer.serialize(OutputPlaybackMarkFrame(mark="s1"))) == {
        "type": "mark",
        "name": "s1",
    }
    assert json.loads(await serializer.serialize(InterruptionFrame())) == {"type": "clear"}


def test_the_terminal_reports_a_mark_once_what_came_before_it_has_played():
    marks: list[str] = []
    playback = Playback(marks.append)
    playback.add_audio(b"\x01\x00" * 100)
    playback.add_mark("s1")
    playback.add_audio(b"\x02\x00" * 100)
    playback.add_mark("s2")
    assert playback.pull(60) == b"\x01\x00" * 60 and marks == []
    assert playback.pull(60) == b"\x01\x00" * 40 + b"\x02\x00" * 20 and marks == ["s1"]
    playback.clear()  # a barge-in: the rest is never heard, nor is its mark
    assert playback.pull(50) == b"\x00\x00" * 50 and marks == ["s1"]


def test_talking_from_a_terminal_without_a_sound_card_says_what_is_missing():
    try:
        sound_device()
    except NoSoundCard as e:
        assert "sounddevice" in str(e) or "no sound card" in str(e)
    else:
        pytest.skip("this machine has a sound card")
