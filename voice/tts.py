"""Text-to-speech: Piper in-process, on voices loaded once per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from piper import PiperVoice, SynthesisConfig


class LocalPiperTTSService(TTSService):
    """Piper TTS on a shared, already loaded voice.

    pipecat's ``PiperTTSService`` loads (or downloads) a voice per instance; here a
    call only borrows the process-wide voice, and speaking rate is per call.
    """

    def __init__(self, *, voice: PiperVoice, voice_name: str, speed: float = 1.0, **kwargs):
        """Create the service for one call.

        Args:
            voice: A loaded Piper voice (shared; Piper inference is thread-safe).
            voice_name: Its name, for logs and metrics.
            speed: Speaking rate: 1.0 is the voice's own, 1.2 is 20% faster.
            **kwargs: Passed to pipecat's ``TTSService``.
        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = voice
        self._synthesis = SynthesisConfig(length_scale=1.0 / max(0.25, min(4.0, speed)))

    def can_generate_metrics(self) -> bool:
        """Piper reports time to first audio."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize one sentence, yielding audio as Piper produces it."""
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                self._chunks(text),
                in_sample_rate=self._voice.config.sample_rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:
            logger.error(f"{self}: Piper failed: {e}")
            yield ErrorFrame(error=f"Piper failed: {e}")
        finally:
            await self.stop_ttfb_metrics()

    async def _chunks(self, text: str) -> AsyncIterator[bytes]:
        chunks: Iterator = iter(self._voice.synthesize(text, syn_config=self._synthesis))
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk.audio_int16_bytes
