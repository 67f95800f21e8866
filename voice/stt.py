"""Speech-to-text: pipecat's Whisper service on the process-wide faster-whisper model."""

from __future__ import annotations

import asyncio
import difflib
import re
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
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
from voice.frames import NoWordsFrame
from voice.languages import DetectedLanguage, LanguageDetector
from voice.whisper_windows import NO_SPEECH_THRESHOLD

# Held speech longer than this is passed on (not final) rather than held any longer.
MAX_HELD_SECS = 20.0
# A caller who starts again this soon after a transcription is finishing that sentence.
RESUME_SECS = 0.8


def _words(text: str) -> list[str]:
    return [re.sub(r"[^\w']", "", word.lower()) for word in text.split()]


def continuation(before: str, combined: str) -> str | None:
    """What ``combined`` (a transcription of earlier speech and what followed) adds to ``before``.

    None when the two do not line up (the earlier words were heard too differently):
    the caller should then transcribe the new speech on its own.
    """
    old, new = _words(before), _words(combined)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not old or sum(b.size for b in blocks) < max(1, len(old) // 2):
        return None
    last = max(b.b + b.size for b in blocks)
    return " ".join(combined.split()[last:]).strip()


@dataclass(frozen=True)
class _Heard:
    """The last final transcription: its speech (unpadded), its text, when it ended (audio time)."""

    audio: bytes
    text: str
    stopped: float


@dataclass(frozen=True)
class _Span:
    """When one VAD segment was spoken: wall times (for the transcript) and call audio times.

    Audio times count the seconds of caller audio received, so the pause between two
    segments is the pause the caller made, however late or bunched the audio arrived.
    """

    started: float
    stopped: float
    audio_started: float
    audio_stopped: float


@dataclass(frozen=True)
class Resumption:
    """Words that continue the previous transcription: the caller resumed after a short pause.

    Parameters:
        before: The previous transcription, as it was passed on.
        whole: The transcription of both, as one sentence.
    """

    before: str
    whole: str


@dataclass(frozen=True)
class SpeechSegment:
    """When the caller spoke the words of one transcription (``TranscriptionFrame.result``)."""

    started_at: datetime
    ended_at: datetime
    audio_secs: float
    resumed: Resumption | None = None
    detected: DetectedLanguage | None = None


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class LocalWhisperSTTService(WhisperSTTService):
    """Segmented STT (one transcription per VAD-bounded segment) on a shared model.

    Unlike the stock service it never loads a model: the engine is loaded once per
    process and shared by all calls, and every transcription goes through its pool
    (``voice.whisper_pool``): batched with other calls' speech, a caller's end of turn
    ahead of background work.
    """

    def __init__(
        self,
        *,
        engine: WhisperEngine,
        language: str | None = "en",
        detector: LanguageDetector | None = None,
        **kwargs,
    ):
        """Create the service for one call.

        Args:
            engine: The process-wide Whisper engine.
            language: ISO 639-1 code of the caller's language; None when ``detector``
                is to tell it from their first words.
            detector: Tells the language of a bilingual call (see the language hook).
            **kwargs: Passed to pipecat's ``SegmentedSTTService``.
        """
        self._engine = engine
        self._language_code = language
        self._detector = detector
        self._detected: DetectedLanguage | None = None
        self._speech_started = (0.0, 0.0)
        # Seconds of caller audio received so far: the call's audio clock.
        self._audio_clock = 0.0
        # Speech held back because the caller went on talking: (pcm, when it started).
        self._held: tuple[bytes, _Span] | None = None
        # When the queued segments were spoken, in the order run_stt gets them.
        self._segment_times: deque[_Span] = deque()
        self._heard: _Heard | None = None
        super().__init__(
            settings=WhisperSTTService.Settings(
                model=engine.name,
                language=Language(language or "en"),
                no_speech_prob=NO_SPEECH_THRESHOLD,
            ),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._engine.model

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        """Buffer the caller's audio and advance the call's audio clock."""
        self._audio_clock += len(frame.audio) / 2 / frame.num_channels / frame.sample_rate
        await super().process_audio_frame(frame, direction)

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        self._speech_started = (
            frame.timestamp - frame.start_secs,
            self._audio_clock - frame.start_secs,
        )
        await super()._handle_user_started_speaking(frame)

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        if self.is_usable:
            started, audio_started = self._speech_started
            stopped, audio_stopped = (
                frame.timestamp - frame.stop_secs,
                self._audio_clock - frame.stop_secs,
            )
            self._segment_times.append(_Span(started, stopped, audio_started, audio_stopped))
        await super()._handle_user_stopped_speaking(frame)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM):
        """Push frames; a transcription keeps the ``finalized`` flag :meth:`run_stt` gave it."""
        if isinstance(frame, TranscriptionFrame):
            await STTService.push_frame(self, frame, direction)  # the base marks every one final
        else:
            await super().push_frame(frame, direction)

    async def stop(self, frame: EndFrame):
        """The call is ending: nothing more is coming, so held speech is transcribed too."""
        self._user_speaking = False
        if self._held is not None and self.is_usable:
            held = self._held[1]
            span = _Span(held.started, time.time(), held.audio_started, self._audio_clock)
            self._segment_times.append(span)
            await self._segment_queue.put(self._trailing_silence())
        await super().stop(frame)

    def _more_speech_pending(self) -> bool:
        # Every queued segment has its span; the queue itself also holds stop()'s end marker.
        return bool(self._segment_times) or self._user_speaking

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe the caller's speech up to this segment, or hold it if they are still talking.

        VAD ends a segment at every short pause, and Whisper hears a lone word badly
        ("Tuesday." alone came back as "Two days." or nothing). So while the caller is
        still talking (or more segments wait), a segment is held back and transcribed
        together with what follows: one transcription, with context, once they stop.
        A caller who starts again while a segment is being transcribed gets the same:
        the segment is held and that transcription dropped. And when the caller starts
        again just after a transcription was passed on (the pause came before their
        next word arrived), the new speech is transcribed after the previous one and
        only the words it adds are passed on. Held speech longer than
        ``MAX_HELD_SECS`` is transcribed anyway, as a transcript that is not final.

        Pieces are joined as the caller spoke them: without the silence the base class
        pads each segment with, which would put a false half-second pause mid-sentence.
        """
        span = self._segment_times.popleft() if self._segment_times else _Span(0.0, 0.0, 0.0, 0.0)
        speech = audio[: max(0, len(audio) - len(self._trailing_silence()))]
        if self._held is not None:
            speech, first = self._held[0] + speech, self._held[1]
            span = _Span(first.started, span.stopped, first.audio_started, span.audio_stopped)
            self._held = None
        seconds = self._secs(speech)
        if not speech:
            return
        final = not self._more_speech_pending()
        if not final and seconds < MAX_HELD_SECS:
            self._held = (speech, span)
            return
        await self.start_processing_metrics()
        try:
            await self._detect(speech)
            text, heard, resumed = await self._transcribe_after(
                self._resumes(span.audio_started, seconds), speech, span.audio_stopped, final
            )
        except Exception as e:  # a broken segment must not end the call
            self._reported_language("")
            await self.stop_processing_metrics()
            yield ErrorFrame(error=f"Whisper failed: {e}")
            return
        await self.stop_processing_metrics()
        if final and self._more_speech_pending():
            # The caller went on while this was transcribed: their sentence is not over.
            # Hold it, as if they had not paused, and transcribe it with what follows
            # (passing it on now would end their turn on half a sentence).
            if seconds < MAX_HELD_SECS:
                self._held = (speech, span)
                return
            final = False
        self._heard = heard if final else None
        detected = self._reported_language(text)
        if not text:
            if final:
                yield NoWordsFrame()  # a bot paused for these sounds plays on now
            return
        logger.debug(f"{self}: transcribed {seconds:.2f}s of audio")
        segment = SpeechSegment(
            started_at=_utc(span.started),
            ended_at=_utc(span.stopped),
            audio_secs=seconds,
            resumed=resumed,
            detected=detected,
        )
        yield TranscriptionFrame(
            text,
            self._user_id,
            time_now_iso8601(),
            Language(self._language_code or "en"),
            result=segment,
            finalized=final,
        )

    def _resumes(self, started: float, seconds: float) -> _Heard | None:
        heard = self._heard
        if heard is None or started - heard.stopped > RESUME_SECS:
            return None
        if self._secs(heard.audio) + seconds > MAX_HELD_SECS:
            return None
        return heard

    def _secs(self, pcm: bytes) -> float:
        return len(pcm) / 2 / self.sample_rate

    async def _transcribe(self, speech: bytes, urgent: bool) -> str:
        # No trailing silence appended: every window is padded with silence already.
        samples = np.frombuffer(speech, dtype=np.int16).astype(np.float32) / 32768.0
        pool = self._engine.pool
        segments = await pool.transcribe(samples, self._language_code, urgent=urgent)
        # The decoder gives "" for a piece that is probably not speech (a cough, line
        # noise) or that it decoded as a loop ("mail mail mail ..."): voice.whisper_windows.
        return " ".join(t for t, _ in segments if t)

    async def _transcribe_after(
        self, before: _Heard | None, speech: bytes, stopped: float, urgent: bool
    ) -> tuple[str, _Heard | None, Resumption | None]:
        """The text of ``speech``, all that was heard, and how it continues ``before`` if so.

        ``urgent``: the caller's turn ended on it (their answer waits for it), so the
        shared pool takes it ahead of background work.
        """
        if before is not None:
            joined = before.audio + speech
            combined = await self._transcribe(joined, urgent)
            added = continuation(before.text, combined)
            if added is not None:
                logger.debug(f"{self}: caller resumed; heard {added!r} after {before.text!r}")
                return added, _Heard(joined, combined, stopped), Resumption(before.text, combined)
        text = await self._transcribe(speech, urgent)
        return text, _Heard(speech, text, stopped) if text else None, None

    # Language hook (bilingual calls, voice.languages): the call's language can be set
    # mid-call, and a service with a detector and no language takes it from the
    # caller's first words, reported with their transcription (SpeechSegment.detected).

    @property
    def language(self) -> str | None:
        """The caller's language (ISO 639-1); None while a detector is to tell it."""
        return self._language_code

    @language.setter
    def language(self, code: str | None) -> None:
        self._language_code = code

    async def _detect(self, speech: bytes) -> None:
        """Take the language of ``speech`` as the call's, while the call's is not known."""
        if self._language_code is not None or self._detector is None:
            return
        samples = np.frombuffer(speech, dtype=np.int16).astype(np.float32) / 32768.0
        self._detected = await asyncio.to_thread(self._detector, samples)
        self._language_code = self._detected.code
        logger.debug(f"{self}: heard {self._detected}")

    def _reported_language(self, text: str) -> DetectedLanguage | None:
        """The detection to report with ``text``; without words (a cough) it tells nothing."""
        detected, self._detected = self._detected, None
        if detected is not None and not text:
            self._language_code = None
            return None
        return detected
