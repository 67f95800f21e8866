"""Twilio Media Streams messages to frames and back."""

from __future__ import annotations

import audioop
import base64
import json

import pytest
from pipecat.frames.frames import (
    EndTaskFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
)

from telephony.twilio.serializer import MalformedMessage, TwilioMediaSerializer
from voice.frames import CARRIER_AUDIO, OutputPlaybackMarkFrame, PlaybackMarkFrame


@pytest.fixture
async def serializer() -> TwilioMediaSerializer:
    s = TwilioMediaSerializer("MZ123", "CA123")
    s._sample_rate = 16000  # what setup() takes from the pipeline's audio_in_sample_rate
    return s


async def test_media_becomes_16khz_audio(serializer):
    payload = base64.b64encode(b"\x00\x7f" * 80).decode()
    message = json.dumps({"event": "media", "media": {"payload": payload}})
    frames = [
        await serializer.deserialize(message) for _ in range(10)
    ]  # the resampler primes first
    audio = [f for f in frames if f is not None]
    assert audio and all(
        isinstance(f, InputAudioRawFrame) and f.sample_rate == 16000 for f in audio
    )


async def test_media_carries_the_callers_own_8khz_audio_along(serializer):
    """What the recording and listen-in take as is, instead of resampling the 16 kHz back."""
    ulaw = bytes(range(256))[:160]
    message = json.dumps({"event": "media", "media": {"payload": base64.b64encode(ulaw).decode()}})
    frame = await serializer.deserialize(message)
    assert len(frame.audio) == 2 * len(ulaw) * 2  # 16 kHz for the pipeline
    assert frame.metadata[CARRIER_AUDIO] == (audioop.ulaw2lin(ulaw, 2), 8000)


@pytest.mark.parametrize(
    "message",
    [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"event": "media", "media": {"payload": "***"}}),
        json.dumps({"event": "media", "media": {}}),
    ],
)
async def test_malformed_messages_raise(serializer, message):
    with pytest.raises(MalformedMessage):
        await serializer.deserialize(message)


async def test_marks_dtmf_stop_and_unknown_events(serializer):
    mark = await serializer.deserialize(json.dumps({"event": "mark", "mark": {"name": "s1"}}))
    assert isinstance(mark, PlaybackMarkFrame) and mark.mark == "s1"
    dtmf = await serializer.deserialize(json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}}))
    assert isinstance(dtmf, InputDTMFFrame) and dtmf.button.value == "5"
    assert await serializer.deserialize(json.dumps({"event": "surprise"})) is None
    assert not serializer.stopped
    stop = await serializer.deserialize(json.dumps({"event": "stop", "stop": {}}))
    assert isinstance(stop, EndTaskFrame) and serializer.stopped


async def test_outgoing_mark_and_clear(serializer):
    mark = json.loads(await serializer.serialize(OutputPlaybackMarkFrame(mark="s7")))
    assert mark == {"event": "mark", "streamSid": "MZ123", "mark": {"name": "s7"}}
    clear = json.loads(await serializer.serialize(InterruptionFrame()))
    assert clear == {"event": "clear", "streamSid": "MZ123"}


async def test_a_stream_that_moves_is_not_a_hang_up(serializer):
    """After a live-call update (keys played on the call) the call goes on on a new stream."""
    serializer.moving = True
    stop = {"event": "stop", "streamSid": "MZ123", "stop": {}}
    assert await serializer.deserialize(json.dumps(stop)) is None and not serializer.stopped
    serializer.resume("MZ456")
    assert await serializer.deserialize(json.dumps(stop)) is None, "the old stream's stop, late"
    clear = json.loads(await serializer.serialize(InterruptionFrame()))
    assert clear == {"event": "clear", "streamSid": "MZ456"}, "audio goes to the new stream"
    ended = await serializer.deserialize(json.dumps({**stop, "streamSid": "MZ456"}))
    assert isinstance(ended, EndTaskFrame) and serializer.stopped
