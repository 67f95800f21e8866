"""Text-to-speech on this machine: Piper in-process, on voices loaded once per process."""

from __future__ import annotations

import asyncio
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Iterator

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, InterruptionFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from piper import PiperVoice, SynthesisConfig

from voice.synthesis_pool import SynthesisPool


def heard_now() -> float:
    """No audio waiting to be heard (the default of ``Synthesizer.chunks``)."""
    return 0.0


class Synthesizer(ABC):
    """One voice of a local speech engine: the audio of a sentence, as the engine produces it.

    Attributes:
        engine: The engine's name, for logs.
        name: The voice's name, for logs and metrics.
        rate: The rate of the raw 16-bit PCM chunks; None: the first chunk is a WAV
            header that names it.
    """

    engine = "TTS"
    name = ""
    rate: int | None = None

    @abstractmethod
    def chunks(
        self, text: str, ahead: Callable[[], float] = heard_now
    ) -> AsyncGenerator[bytes, None]:
        """Synthesize ``text``; closing the generator stops the engine.

        Args:
            text: What to say.
            ahead: Seconds of the call's audio produced but not yet heard: how long
                the caller would not miss this audio (a shared engine serves calls
                with less first).
        """


async def speak_whole(synthesizer: Synthesizer, text: str, rate: int) -> bytes:
    """``text`` said whole, as 16-bit mono PCM at ``rate`` (a line played outside a pipeline).

    E.g. the whisper a SIP warm transfer plays to the agent alone, at the phone's 8 kHz.
    """
    audio, source_rate = bytearray(), synthesizer.rate
    async for chunk in synthesizer.chunks(text):
        if source_rate is None:  # the first chunk is a 44-byte WAV header that names the rate
            source_rate, chunk = struct.unpack_from("<I", chunk, 24)[0], chunk[44:]
        audio += chunk
    samples = np.frombuffer(bytes(audio[: len(audio) // 2 * 2]), dtype="<i2")
    if source_rate and source_rate != rate:
        samples = await asyncio.to_thread(soxr.resample, samples, source_rate, rate)
    return samples.astype("<i2").tobytes()


class LocalTTSService(TTSService):
    """A local speech engine, streamed sentence by sentence as it synthesizes.

    The voice is a :class:`Synthesizer`; sentence splitting, resampling to the call's
    rate, interruption and the text frames playback marks follow are pipecat's, the
    same for every engine. :meth:`use` changes the voice mid-call (a bilingual call
    switching language), from the next sentence on.
    """

    def __init__(self, *, synthesizer: Synthesizer, **kwargs):
        """Create the service for one call.

        Args:
            synthesizer: The voice it speaks with.
            **kwargs: Passed to pipecat's ``TTSService``.
        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=synthesizer.name, language=None),
            **kwargs,
        )
        self._synthesizer = synthesizer
        # When the audio produced so far will have played (monotonic clock; an estimate
        # that takes playback to start as soon as audio is produced).
        self._played_by = 0.0

    @property
    def ahead_secs(self) -> float:
        """Seconds of audio produced that the caller has not heard yet (0: they are waiting)."""
        return max(0.0, self._played_by - time.monotonic())

    def _produced(self, seconds: float) -> None:
        self._played_by = max(self._played_by, time.monotonic()) + seconds

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """An interruption drops the audio queued for playback: the caller waits again."""
        if isinstance(frame, InterruptionFrame):
            self._played_by = 0.0
        await super().process_frame(frame, direction)

    @property
    def synthesizer(self) -> Synthesizer:
        """The voice it speaks with now."""
        return self._synthesizer

    def use(self, synthesizer: Synthesizer) -> None:
        """Speak with another voice from the next sentence on."""
        self._synthesizer = synthesizer
        self._settings.voice = synthesizer.name

    def can_generate_metrics(self) -> bool:
        """Local engines report time to first audio."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize one sentence, yielding audio as the engine produces it."""
        synthesizer = self._synthesizer
        chunks = synthesizer.chunks(text, lambda: self.ahead_secs)
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                chunks,
                strip_wav_header=synthesizer.rate is None,
                in_sample_rate=synthesizer.rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                if audio := getattr(frame, "audio", None):
                    self._produced(len(audio) / 2 / self.sample_rate)
                yield frame
        except Exception as e:
            logger.error(f"{self}: {synthesizer.engine} failed: {e}")
            yield ErrorFrame(error=f"{synthesizer.engine} failed: {e}")
        finally:
            await chunks.aclose()  # an interrupted sentence stops its engine now
            await self.stop_ttfb_metrics()


class PiperSynthesizer(Synthesizer):
    """A Piper voice, shared by every call (Piper is thread-safe); the speaking rate is per call."""

    engine = "Piper"

    def __init__(
        self,
        voice: PiperVoice,
        name: str,
        speed: float = 1.0,
        pool: SynthesisPool | None = None,
    ):
        """Speak with a loaded voice.

        Args:
            voice: The process-wide voice.
            name: Its name, for logs and metrics.
            speed: Speaking rate: 1.0 is the voice's own, 1.2 is 20% faster.
            pool: The threads all calls synthesize on, a waiting caller first (None:
                asyncio's default threads, first come first served).
        """
        self.name = name
        self.rate = voice.config.sample_rate
        self._voice = voice
        self._pool = pool
        self._config = SynthesisConfig(length_scale=1.0 / max(0.25, min(4.0, speed)))

    async def chunks(
        self, text: str, ahead: Callable[[], float] = heard_now
    ) -> AsyncGenerator[bytes, None]:
        """Piper's audio, a chunk per sentence, each synthesized as one step on the pool."""
        chunks: Iterator = iter(self._voice.synthesize(text, syn_config=self._config))
        while True:
            if self._pool is None:
                chunk = await asyncio.to_thread(next, chunks, None)
            else:
                chunk = await self._pool.run(lambda: next(chunks, None), ahead())
            if chunk is None:
                return
            yield chunk.audio_int16_bytes


class LocalPiperTTSService(LocalTTSService):
    """Piper TTS on a shared, already loaded voice.

    pipecat's ``PiperTTSService`` loads (or downloads) a voice per instance; here a
    call only borrows the process-wide voice, and speaking rate is per call.
    """

    def __init__(
        self,
        *,
        voice: PiperVoice,
        voice_name: str,
        speed: float = 1.0,
        pool: SynthesisPool | None = None,
        **kwargs,
    ):
        """Create the service for one call (see :class:`PiperSynthesizer`)."""
        super().__init__(synthesizer=PiperSynthesizer(voice, voice_name, speed, pool), **kwargs)
