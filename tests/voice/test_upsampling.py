"""The frame upsampler: each phone frame comes back at once, at twice the rate, band intact."""

from __future__ import annotations

import numpy as np
from pipecat.audio.utils import create_stream_resampler

from voice.frames import CARRIER_AUDIO
from voice.upsampling import FrameUpsampler, caller_frame

FRAME = 160  # 20 ms at 8 kHz


def tone(freq: float, secs: float = 1.0, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(secs * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 10000).astype("<i2")


async def frames_through(resampler, samples: np.ndarray, out_rate: int = 16000) -> list[bytes]:
    return [
        await resampler.resample(samples[i : i + FRAME].tobytes(), 8000, out_rate)
        for i in range(0, len(samples), FRAME)
    ]


def level_at(samples: np.ndarray, freq: float, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(spectrum[round(freq * len(samples) / rate)])


async def test_every_frame_comes_back_at_once_where_pipecats_stream_resampler_batches_them():
    ours = await frames_through(FrameUpsampler(), tone(1000))
    theirs = await frames_through(create_stream_resampler(), tone(1000))
    assert {len(out) for out in ours} == {FRAME * 2 * 2}  # 320 samples of 16-bit PCM
    assert any(len(out) == 0 for out in theirs), "pipecat's resampler no longer holds frames back"


async def test_a_tone_keeps_its_level_and_its_image_above_the_phone_band_is_gone():
    out = np.frombuffer(b"".join(await frames_through(FrameUpsampler(), tone(1000))), "<i2")
    steady = out[800:].astype(float)
    assert abs(steady.std() - tone(1000).astype(float).std()) < 100
    assert level_at(steady, 7000) < level_at(steady, 1000) / 1000  # the 8 - 1 kHz image: -60 dB


async def test_a_click_comes_out_where_it_went_in_two_ms_later():
    click = np.zeros(8000, "<i2")
    click[4000] = 20000
    out = np.frombuffer(b"".join(await frames_through(FrameUpsampler(), click)), "<i2")
    assert 8000 <= int(np.argmax(np.abs(out))) <= 8000 + 32


async def test_rates_that_are_not_a_whole_multiple_go_to_pipecats_resampler():
    out = b"".join(await frames_through(FrameUpsampler(), tone(1000), out_rate=22050))
    assert abs(len(out) // 2 - 22050) < 2000  # pipecat's stream resampler holds a little back


async def test_a_callers_frame_carries_the_lines_own_audio_along():
    """Twilio's and SIP's frames: 16 kHz for the pipeline, the line's 8 kHz for the recording."""
    pcm = np.arange(160, dtype="<i2").tobytes()
    frame = await caller_frame(FrameUpsampler(), pcm, 8000, 16000)
    assert (frame.sample_rate, len(frame.audio)) == (16000, 2 * len(pcm))
    assert frame.metadata[CARRIER_AUDIO] == (pcm, 8000)
    assert await caller_frame(FrameUpsampler(), b"", 8000, 16000) is None
