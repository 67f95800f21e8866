"""The caller's audio stops after the user aggregator: the LLM, TTS and output never carry it."""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame, TextFrame, TranscriptionFrame
from pipecat.tests.utils import run_test
from pipecat.utils.time import time_now_iso8601

from voice.pipeline import stop_caller_audio


async def test_the_callers_audio_goes_no_further_and_everything_else_does():
    audio = InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)
    words = TranscriptionFrame("hello", "caller", time_now_iso8601())
    down, up = await run_test(
        stop_caller_audio(),
        frames_to_send=[audio, TextFrame("a reply"), audio, words],
        expected_down_frames=[TextFrame, TranscriptionFrame],
    )
    assert [f.text for f in down] == ["a reply", "hello"]
    assert not up
