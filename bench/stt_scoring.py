"""What the STT benchmarks share: speech as a phone line delivers it, word error rate, latency."""

from __future__ import annotations

import audioop
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import soxr

RATE = 16000


def phone(ulaw: bytes) -> np.ndarray:
    """8 kHz mu-law as the pipeline hears it: 16 kHz float32."""
    pcm = np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype=np.int16)
    return soxr.resample(pcm.astype(np.float32) / 32768, 8000, RATE).astype(np.float32)


def normalize(text: str) -> list[str]:
    """Lower case, no accents, no punctuation, as words."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^\w\s]", " ", folded).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, start=1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp)),
            )
    return row[-1]


@dataclass(frozen=True)
class Score:
    """Word errors over reference words, and each transcription's latency (ms, sorted)."""

    errors: int
    words: int
    latencies: list[float]

    @property
    def wer(self) -> float:
        """Word error rate, in percent."""
        return 100 * self.errors / self.words

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return self.latencies[min(len(self.latencies) - 1, int(len(self.latencies) * 0.95))]


def score(
    transcribe: Callable[[np.ndarray], str],
    items: Iterable[tuple[str, np.ndarray]],
    *,
    repeat: int = 1,
    show: Callable[[str, str], None] | None = None,
) -> Score:
    """Transcribe each (reference, audio) ``repeat`` times; ``show`` sees each text heard."""
    errors = words = 0
    latencies = []
    for reference, audio in items:
        for _ in range(repeat):
            started = time.perf_counter()
            text = transcribe(audio)
            latencies.append((time.perf_counter() - started) * 1000)
        expected = normalize(reference)
        errors += word_errors(expected, normalize(text))
        words += len(expected)
        if show is not None:
            show(reference, text)
    return Score(errors, words, sorted(latencies))
