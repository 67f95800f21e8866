"""Observes the call's pipeline for what the caller said, as each transcription lands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pipecat.frames.frames import TranscriptionFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection

from voice.stt import SpeechSegment

UserSaid = Callable[[str, datetime, datetime], Awaitable[None]]


class CallerTranscriptObserver(BaseObserver):
    """Calls ``on_user_said(text, started_at, ended_at)`` for every final caller transcription."""

    def __init__(self, on_user_said: UserSaid, **kwargs):
        """Create the observer for one call."""
        super().__init__(**kwargs)
        self._on_user_said = on_user_said

    async def on_push_frame(self, data: FramePushed):
        """Pick final transcriptions as they leave the STT service."""
        frame = data.frame
        if (
            not isinstance(frame, TranscriptionFrame)
            or data.direction != FrameDirection.DOWNSTREAM
            or not data.first_push
        ):
            return
        segment = frame.result if isinstance(frame.result, SpeechSegment) else None
        now = datetime.now(UTC)
        await self._on_user_said(
            frame.text,
            segment.started_at if segment else now,
            segment.ended_at if segment else now,
        )
