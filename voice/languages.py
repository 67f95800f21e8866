"""Bilingual calls: the caller's language, from Whisper on their first words, and the switch."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from loguru import logger
from pipecat.frames.frames import Frame, LLMUpdateSettingsFrame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.settings import LLMSettings

from voice.tts import LocalTTSService, Synthesizer

RATE = 16000  # Whisper's input
FRAMES_PER_SEC = 100  # its log-mel frames
MIN_WINDOW_SECS, MAX_WINDOW_SECS = 10, 30


@dataclass(frozen=True)
class DetectedLanguage:
    """The language Whisper heard in an utterance.

    Parameters:
        code: ISO 639-1 (one of the languages the call listens for).
        probability: Whisper's probability of it.
        share: Its share of the probability among the languages listened for.
    """

    code: str
    probability: float
    share: float


class LanguageDetector:
    """Whisper's language detection, restricted to the languages a call listens for.

    Whisper alone may take a short Spanish line for Portuguese or Galician; only the
    assistant's languages count. The encoder reads a window sized to the speech (10 s
    at least) instead of Whisper's 30 s: measured here on espeak-ng lines at 8 kHz,
    5x faster and as right (9 of 10 short English and Spanish lines, against 8 of 10).
    Blocking (one encoder pass): call it in a worker thread.
    """

    def __init__(self, model: WhisperModel, languages: Sequence[str]):
        """Detect among ``languages`` (tags or ISO codes) with a multilingual model."""
        self._model = model
        self.codes = tuple(dict.fromkeys(tag.split("-")[0].lower() for tag in languages))

    def __call__(self, audio: np.ndarray) -> DetectedLanguage:
        """The most probable of the call's languages in 16 kHz float32 speech."""
        seconds = min(MAX_WINDOW_SECS, max(MIN_WINDOW_SECS, math.ceil(len(audio) / RATE)))
        features = self._model.feature_extractor(audio[: seconds * RATE])
        encoded = self._model.encode(pad_or_trim(features, seconds * FRAMES_PER_SEC))
        tokens = self._model.model.detect_language(encoded)[0]
        probabilities = [(token[2:-2], p) for token, p in tokens]  # "<|es|>" → "es"
        scores = {code: p for code, p in probabilities if code in self.codes}
        code = max(self.codes, key=lambda c: scores.get(c, 0.0))
        total = sum(scores.values())
        probability = scores.get(code, 0.0)
        return DetectedLanguage(code, probability, probability / total if total else 0.0)


@dataclass(frozen=True)
class SpokenLanguage:
    """What a call speaks once it switched language.

    Parameters:
        code: ISO 639-1.
        synthesizer: The voice for it.
        system_prompt: The system prompt in it (the assistant's, with its addition).
    """

    code: str
    synthesizer: Synthesizer
    system_prompt: str


# Told the detected language, returns what to speak (None: nothing changes).
OnLanguage = Callable[[DetectedLanguage], Awaitable[SpokenLanguage | None]]


class LanguageSwitch(FrameProcessor):
    """Sits after the STT of a bilingual call: the caller's first words switch the call's language.

    The STT detects the language on the caller's first utterance and reports it with
    that transcription (``TranscriptionFrame.result.detected``). Before the
    transcription goes on to the LLM, ``on_language`` is told (the call's owner
    switches its own lines and stores the language), the TTS takes the language's
    voice and the LLM its system prompt, so the reply to those first words is already
    in the caller's language. Once only.
    """

    def __init__(self, *, tts: LocalTTSService, on_language: OnLanguage, **kwargs):
        """Create the switch for one call."""
        super().__init__(**kwargs)
        self._tts = tts
        self._on_language = on_language
        self._switched = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Switch on the first transcription with a detected language; pass every frame on."""
        await super().process_frame(frame, direction)
        segment = frame.result if isinstance(frame, TranscriptionFrame) else None
        detected = getattr(segment, "detected", None)  # voice.stt.SpeechSegment
        if isinstance(detected, DetectedLanguage) and not self._switched:
            self._switched = True
            await self._switch(detected)
        await self.push_frame(frame, direction)

    async def _switch(self, detected: DetectedLanguage) -> None:
        try:
            spoken = await self._on_language(detected)
        except Exception as e:  # the call goes on in the language it started in
            logger.exception(f"{self}: could not switch to {detected.code}: {e}")
            return
        if spoken is None:
            return
        self._tts.use(spoken.synthesizer)
        await self.push_frame(
            LLMUpdateSettingsFrame(delta=LLMSettings(system_instruction=spoken.system_prompt))
        )
