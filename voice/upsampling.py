"""Raising a call's audio rate by a whole factor (8 to 16 kHz) at once, frame in, frame out."""

from __future__ import annotations

import numpy as np
from pipecat.audio.resamplers.base_audio_resampler import BaseAudioResampler
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import InputAudioRawFrame

from voice.frames import CARRIER_AUDIO

TAPS_PER_PHASE = 32  # 64 taps at 16 kHz: images above 4.4 kHz down > 70 dB, 2 ms of delay
CUTOFF = 0.45  # of the input rate: keeps the telephone band (up to 3.6 kHz at 8 kHz)


def lowpass_phases(factor: int) -> np.ndarray:
    """A windowed-sinc low-pass at the output rate, split into ``factor`` polyphase rows."""
    taps = factor * TAPS_PER_PHASE
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(CUTOFF * 2 / factor * n) * (CUTOFF * 2) * np.kaiser(taps, 8.0)
    return kernel.reshape(TAPS_PER_PHASE, factor).T  # row p: the taps for output phase p


class FrameUpsampler(BaseAudioResampler):
    """Upsamples 16-bit mono PCM by an integer factor, returning every chunk's audio at once.

    pipecat's stream resampler (soxr, any quality but the coarsest) gathers its
    input and returns output in ~100 ms batches: fed 20 ms phone frames, it holds
    a caller's audio back 20 to 100 ms, so the VAD hears a barge-in that much
    later (and in bursts). This polyphase FIR returns each frame's samples as the
    frame comes, 2 ms late. Rates that are not a whole multiple go to pipecat's.
    """

    def __init__(self) -> None:
        """A resampler with no history yet."""
        self._rates: tuple[int, int] | None = None
        self._phases = np.zeros((1, TAPS_PER_PHASE))
        self._history = np.zeros(TAPS_PER_PHASE - 1)
        self._fallback: BaseAudioResampler | None = None

    async def resample(self, audio: bytes, in_rate: int, out_rate: int) -> bytes:
        """``audio`` at ``out_rate``: ``out_rate / in_rate`` samples for each one in."""
        if in_rate == out_rate:
            return audio
        if out_rate % in_rate:
            self._fallback = self._fallback or create_stream_resampler()
            return await self._fallback.resample(audio, in_rate, out_rate)
        if self._rates != (in_rate, out_rate):
            self._rates = (in_rate, out_rate)
            self._phases = lowpass_phases(out_rate // in_rate)
            self._history = np.zeros(TAPS_PER_PHASE - 1)
        return self._upsample(np.frombuffer(audio[: len(audio) // 2 * 2], "<i2"))

    def _upsample(self, samples: np.ndarray) -> bytes:
        if not len(samples):
            return b""
        padded = np.concatenate([self._history, samples.astype(np.float64)])
        self._history = padded[len(padded) - (TAPS_PER_PHASE - 1) :]
        # Output sample factor*n + p = sum_j phases[p][j] * x[n - j]: one convolution a phase.
        out = np.stack([np.convolve(padded, phase, "valid") for phase in self._phases], axis=1)
        return np.clip(np.rint(out.ravel()), -32768, 32767).astype("<i2").tobytes()


async def caller_frame(
    upsampler: FrameUpsampler, pcm: bytes, rate: int, pipeline_rate: int
) -> InputAudioRawFrame | None:
    """The caller's ``pcm`` (as the line carries it) at the pipeline's rate, carrying the
    line's own along (``voice.frames.CARRIER_AUDIO``: what the recording and listen-in
    take as is); None for no audio."""
    audio = await upsampler.resample(pcm, rate, pipeline_rate)
    if not audio:
        return None
    frame = InputAudioRawFrame(audio=audio, sample_rate=pipeline_rate, num_channels=1)
    frame.metadata[CARRIER_AUDIO] = (pcm, rate)
    return frame
