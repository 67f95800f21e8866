"""The Talk socket's wire format: raw PCM both ways as binary, control messages as JSON text."""

from __future__ import annotations

import json

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import (
    EndTaskFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.serializers.base_serializer import FrameSerializer

from voice.frames import OutputPlaybackMarkFrame, PlaybackMarkFrame

# What the browser sends: 16-bit little-endian mono PCM at this rate (what Whisper hears).
INPUT_RATE = 16000
# What it plays: the pipeline's output rate (voice.pipeline.AUDIO_OUT_RATE).
OUTPUT_RATE = 8000
# A browser sends 20 ms frames; more than a second in one message is not audio we expect.
MAX_AUDIO_BYTES = 2 * INPUT_RATE


class MalformedMessage(ValueError):
    """A Talk message we cannot use (logged by the transport, then skipped)."""


class BrowserAudioSerializer(FrameSerializer):
    """Frames to and from the Talk socket.

    In: binary messages are the microphone (PCM, :data:`INPUT_RATE`); text messages are
    JSON: ``{"type": "mark", "name"}`` when the page has played up to a mark, and
    ``{"type": "hangup"}`` when the person ends the call.

    Out: the assistant's audio as binary PCM at :data:`OUTPUT_RATE`; ``{"type": "mark",
    "name"}`` after each sentence (the page echoes it once played, so "heard" works as
    on the phone); ``{"type": "clear"}`` on a barge-in: the page drops what it queued.
    """

    def __init__(self) -> None:
        """A serializer for one Talk call."""
        super().__init__()
        self.stopped = False

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """Audio as PCM bytes; marks and barge-ins as JSON."""
        if isinstance(frame, OutputAudioRawFrame):
            return _at_rate(frame.audio, frame.sample_rate, OUTPUT_RATE)
        if isinstance(frame, OutputPlaybackMarkFrame):
            return json.dumps({"type": "mark", "name": frame.mark})
        if isinstance(frame, InterruptionFrame):
            return json.dumps({"type": "clear"})
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """The microphone's PCM, mark echoes and the hang-up.

        Raises:
            MalformedMessage: Audio of an odd length or too long, text that is not a
                JSON object.
        """
        if isinstance(data, bytes):
            if len(data) % 2 or len(data) > MAX_AUDIO_BYTES:
                raise MalformedMessage(f"audio of {len(data)} bytes (16-bit PCM, at most 1 s)")
            return InputAudioRawFrame(audio=data, sample_rate=INPUT_RATE, num_channels=1)
        try:
            message = json.loads(data)
        except json.JSONDecodeError as e:
            raise MalformedMessage(f"not JSON: {e}") from None
        if not isinstance(message, dict):
            raise MalformedMessage("not a JSON object")
        kind = message.get("type")
        if kind == "mark" and isinstance(message.get("name"), str):
            return PlaybackMarkFrame(mark=message["name"])
        if kind == "hangup":
            self.stopped = True
            return EndTaskFrame(reason="hung up in the browser")
        logger.debug(f"ignoring Talk message {str(kind)[:40]!r}")
        return None


def _at_rate(audio: bytes, rate: int, wanted: int) -> bytes:
    if rate == wanted:
        return audio
    samples = soxr.resample(np.frombuffer(audio, dtype="<i2"), rate, wanted)
    return samples.astype("<i2").tobytes()
