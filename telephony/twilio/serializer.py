"""Twilio Media Streams: pipecat's serializer, plus marks, stop and strict input checks."""

from __future__ import annotations

import audioop
import base64
import binascii
import json

from loguru import logger
from pipecat.frames.frames import EndTaskFrame, Frame
from pipecat.serializers.twilio import TwilioFrameSerializer

from voice.frames import OutputPlaybackMarkFrame, PlaybackMarkFrame
from voice.upsampling import FrameUpsampler, caller_frame


class MalformedMessage(ValueError):
    """A Media Streams message we cannot use (logged by the transport, then skipped)."""


class TwilioMediaSerializer(TwilioFrameSerializer):
    """Adds what a phone agent needs to pipecat's Twilio serializer.

    - ``mark`` out after each spoken sentence, and mark echoes in as
      :class:`PlaybackMarkFrame`, so we know what the caller heard;
    - ``stop`` in ends the call gracefully (``EndTaskFrame``), with no REST
      hang-up: the stream also stops when a transfer moves the call elsewhere,
      and closing our side of the socket is enough to end ``<Connect>``; but not
      while the stream is :attr:`moving` (keys played on the call, after which a
      new stream carries it on), nor the ``stop`` of an earlier stream;
    - malformed JSON, bad base64 and unknown events raise or are ignored instead
      of reaching the audio path.
    """

    def __init__(self, stream_sid: str, call_sid: str | None = None):
        """Create the serializer for one stream."""
        super().__init__(
            stream_sid,
            call_sid,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
        # pipecat's stream resampler hands the caller's audio on in ~100 ms batches, late
        # for the VAD (see voice.upsampling); each 20 ms media message goes on at once.
        self._input_resampler = FrameUpsampler()
        self.stopped = False
        self.moving = False

    @property
    def stream_sid(self) -> str:
        """The stream whose media this serializes (the call's latest one)."""
        return self._stream_sid

    def resume(self, stream_sid: str) -> None:
        """The call's media goes on on a new stream (after a live-call update)."""
        self._stream_sid = stream_sid
        self.moving = False

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """Frames to Twilio messages; playback marks become ``mark`` events."""
        if isinstance(frame, OutputPlaybackMarkFrame):
            return json.dumps(
                {"event": "mark", "streamSid": self._stream_sid, "mark": {"name": frame.mark}}
            )
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Twilio messages to frames.

        Raises:
            MalformedMessage: Binary, not a JSON object, or a ``media`` payload that is not
                base64.
        """
        if isinstance(data, bytes):
            raise MalformedMessage("a binary frame (Media Streams messages are JSON text)")
        try:
            message = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MalformedMessage(f"not JSON: {e}") from None
        if not isinstance(message, dict):
            raise MalformedMessage("not a JSON object")
        event = message.get("event")
        if event == "media":
            payload = (message.get("media") or {}).get("payload")
            if not isinstance(payload, str):
                raise MalformedMessage("media without a payload")
            try:
                ulaw = base64.b64decode(payload, validate=True)
            except binascii.Error as e:
                raise MalformedMessage(f"media payload is not base64: {e}") from None
            pcm = audioop.ulaw2lin(ulaw, 2)
            return await caller_frame(
                self._input_resampler, pcm, self._twilio_sample_rate, self._sample_rate
            )
        if event == "dtmf":
            return await super().deserialize(data)
        if event == "mark":
            name = (message.get("mark") or {}).get("name")
            return PlaybackMarkFrame(mark=name) if isinstance(name, str) else None
        if event == "stop":
            if self.moving or message.get("streamSid") not in (None, self._stream_sid):
                return None  # this stream ended; the call goes on on the next one
            self.stopped = True
            return EndTaskFrame(reason="stream stopped")
        if event not in ("connected", "start"):
            logger.debug(f"ignoring Media Streams event {str(event)[:40]!r}")
        return None
