"""How many threads Whisper gets by default: every core but one, at most four."""

from __future__ import annotations

import pytest

from voice.engines import default_stt_threads


@pytest.mark.parametrize(
    ("cores", "workers", "threads"),
    [(1, 1, 1), (2, 1, 1), (4, 1, 3), (8, 1, 4), (32, 1, 4), (8, 2, 2), (2, 2, 1)],
)
def test_whisper_leaves_a_core_to_the_calls_audio(cores: int, workers: int, threads: int):
    assert default_stt_threads(workers, cores) == threads
