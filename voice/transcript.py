"""Observes the call's pipeline for what the caller said, as each transcription lands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from pipecat.frames.frames import TranscriptionFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection

from voice.stt import Resumption, SpeechSegment


class UserSaid(Protocol):
    """Receives what the caller said and when.

    ``resumed`` is set when ``text`` continues the caller's previous words (they went
    on after a short pause): both as one transcription, to show as one line.
    """

    async def __call__(
        self,
        text: str,
        started_at: datetime,
        ended_at: datetime,
        *,
        resumed: Resumption | None = None,
    ) -> None: ...


class CallerTranscriptObserver(BaseObserver):
    """Calls ``on_user_said`` for every final caller transcription."""

    def __init__(self, on_user_said: UserSaid, **kwargs):
        """Create the observer for one call (told of each frame's first push only)."""
        super().__init__(observe_every_push=False, **kwargs)
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
            resumed=segment.resumed if segment else None,
        )
