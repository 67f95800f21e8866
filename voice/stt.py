"""Speech-to-text: pipecat's Whisper service on the process-wide faster-whisper model."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from voice.engines import WhisperEngine

# Segments Whisper thinks are probably not speech (coughs, line noise) are dropped.
NO_SPEECH_THRESHOLD = 0.6


@dataclass(frozen=True)
class SpeechSegment:
    """When the caller spoke the words of one transcription (``TranscriptionFrame.result``)."""

    started_at: datetime
    ended_at: datetime
    audio_secs: float


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class LocalWhisperSTTService(WhisperSTTService):
    """Segmented STT (one transcription per VAD-bounded segment) on a shared model.

    Unlike the stock service it never loads a model: the engine is loaded once per
    process and shared by all calls, and every inference goes through
    :meth:`WhisperEngine.transcribe`, in a worker thread.
    """

    def __init__(self, *, engine: WhisperEngine, language: str = "en", **kwargs):
        """Create the service for one call.

        Args:
            engine: The process-wide Whisper engine.
            language: ISO 639-1 code of the caller's language.
            **kwargs: Passed to pipecat's ``SegmentedSTTService``.
        """
        self._engine = engine
        self._language_code = language
        self._speech_started = 0.0
        self._unfinalized_text = False  # a transcript went out that more speech may follow
        # (start, stop) wall times of queued segments, in the order run_stt gets them.
        self._segment_times: deque[tuple[float, float]] = deque()
        super().__init__(
            settings=WhisperSTTService.Settings(
                model=engine.name, language=Language(language), no_speech_prob=NO_SPEECH_THRESHOLD
            ),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._engine.model

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        self._speech_started = frame.timestamp - frame.start_secs
        await super()._handle_user_started_speaking(frame)

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        if self.is_usable:
            self._segment_times.append((self._speech_started, frame.timestamp - frame.stop_secs))
        await super()._handle_user_stopped_speaking(frame)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM):
        """Push frames; a transcription keeps the ``finalized`` flag :meth:`run_stt` gave it.

        The base class marks every segment's transcript final. A caller's turn often
        spans several VAD segments, and a transcript marked final ends the turn at
        once, so only the transcript of the last segment heard so far is final.
        """
        if isinstance(frame, TranscriptionFrame):
            await STTService.push_frame(self, frame, direction)
        else:
            await super().push_frame(frame, direction)

    def _no_more_speech_pending(self) -> bool:
        return not self._segment_times and not self._user_speaking and self._segment_queue.empty()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment of 16-bit PCM and yield its transcription, if any."""
        await self.start_processing_metrics()
        started, stopped = self._segment_times.popleft() if self._segment_times else (0.0, 0.0)
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        try:
            segments = await asyncio.to_thread(
                self._engine.transcribe, samples, self._language_code
            )
        except Exception as e:  # a broken segment must not end the call
            await self.stop_processing_metrics()
            yield ErrorFrame(error=f"Whisper failed: {e}")
            return
        await self.stop_processing_metrics()
        text = " ".join(t.strip() for t, p in segments if p < NO_SPEECH_THRESHOLD).strip()
        final = self._no_more_speech_pending()
        if not text:
            if final and self._unfinalized_text:
                # Noise after real words: close the turn's transcript without adding text
                # (whitespace is dropped by the aggregator but counts as a transcript).
                self._unfinalized_text = False
                yield TranscriptionFrame(" ", self._user_id, time_now_iso8601(), finalized=True)
            return
        self._unfinalized_text = not final
        logger.debug(f"{self}: transcribed {len(samples) / self.sample_rate:.2f}s of audio")
        segment = SpeechSegment(
            started_at=_utc(started), ended_at=_utc(stopped), audio_secs=len(samples) / self.sample_rate
        )
        yield TranscriptionFrame(
            text,
            self._user_id,
            time_now_iso8601(),
            Language(self._language_code),
            result=segment,
            finalized=final,
        )
