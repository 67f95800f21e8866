"""Text-to-speech on this machine: Piper in-process, on voices loaded once per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from piper import PiperVoice, SynthesisConfig


class LocalTTSService(TTSService):
    """A local speech engine, streamed sentence by sentence as it synthesizes.

    Subclasses only produce audio bytes (:meth:`_chunks`); sentence splitting,
    resampling to the call's rate, interruption and the text frames playback marks
    follow are pipecat's, the same for every engine.
    """

    engine = "TTS"
    # Chunks are raw 16-bit PCM at this rate; None: the first chunk is a WAV header naming it.
    chunk_rate: int | None = None

    def __init__(self, *, voice_name: str, **kwargs):
        """Create the service for one call.

        Args:
            voice_name: The voice's name, for logs and metrics.
            **kwargs: Passed to pipecat's ``TTSService``.
        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )

    def can_generate_metrics(self) -> bool:
        """Local engines report time to first audio."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize one sentence, yielding audio as the engine produces it."""
        chunks = self._chunks(text)
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                chunks,
                strip_wav_header=self.chunk_rate is None,
                in_sample_rate=self.chunk_rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:
            logger.error(f"{self}: {self.engine} failed: {e}")
            yield ErrorFrame(error=f"{self.engine} failed: {e}")
        finally:
            await chunks.aclose()  # an interrupted sentence stops its engine now
            await self.stop_ttfb_metrics()

    def _chunks(self, text: str) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError


class LocalPiperTTSService(LocalTTSService):
    """Piper TTS on a shared, already loaded voice.

    pipecat's ``PiperTTSService`` loads (or downloads) a voice per instance; here a
    call only borrows the process-wide voice, and speaking rate is per call.
    """

    engine = "Piper"

    def __init__(self, *, voice: PiperVoice, voice_name: str, speed: float = 1.0, **kwargs):
        """Create the service for one call.

        Args:
            voice: A loaded Piper voice (shared; Piper inference is thread-safe).
            voice_name: Its name, for logs and metrics.
            speed: Speaking rate: 1.0 is the voice's own, 1.2 is 20% faster.
            **kwargs: Passed to pipecat's ``TTSService``.
        """
        super().__init__(voice_name=voice_name, **kwargs)
        self._voice = voice
        self.chunk_rate = voice.config.sample_rate
        self._synthesis = SynthesisConfig(length_scale=1.0 / max(0.25, min(4.0, speed)))

    async def _chunks(self, text: str) -> AsyncGenerator[bytes, None]:
        chunks: Iterator = iter(self._voice.synthesize(text, syn_config=self._synthesis))
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk.audio_int16_bytes
