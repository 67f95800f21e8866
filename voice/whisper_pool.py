"""One queue of Whisper work for every call: batched across calls, end-of-turn work first."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

import numpy as np
from loguru import logger

from voice.whisper_windows import Piece, pieces

# Pieces decoded in one pass. More calls than this wait for the next pass, which
# starts as soon as this one ends.
MAX_BATCH = 8

Segments = list[tuple[str, float]]
Decoder = Callable[[Sequence[Piece]], Segments]


@dataclass
class PoolStats:
    """What the pool did, for benchmarks and tests.

    Parameters:
        requests: Transcriptions asked for.
        pieces: Window-sized pieces decoded.
        batches: Decoder passes.
        largest_batch: The most pieces in one pass.
        batch_sizes: Pieces per pass, the latest last (at most 100 kept).
    """

    requests: int = 0
    pieces: int = 0
    batches: int = 0
    largest_batch: int = 0
    batch_sizes: list[int] = field(default_factory=list)


@dataclass
class _Request:
    future: Future[Segments]
    results: list[tuple[str, float] | None]
    remaining: int


@dataclass(order=True)
class _Job:
    priority: int  # 0: a caller waits for it (end of turn); 1: background
    seq: int
    piece: Piece = field(compare=False)
    request: _Request = field(compare=False)
    index: int = field(compare=False)


class WhisperPool:
    """Worker threads that transcribe for every call of the process.

    A transcription is cut into window-sized pieces (see ``voice.whisper_windows``);
    each pass takes up to ``MAX_BATCH`` waiting pieces, urgent ones (a caller's turn
    ended and they wait for the answer) before background ones, oldest first, from any
    call. A pass starts as soon as a worker is free: batching costs no waiting, the
    pieces that arrived during a pass share the next one.
    """

    def __init__(self, decoder: Decoder, *, workers: int = 1, max_batch: int = MAX_BATCH):
        """Run ``workers`` threads (started on first use), each decoding with ``decoder``."""
        self._decoder = decoder
        self._workers = max(1, workers)
        self._max_batch = max(1, max_batch)
        self._queue: list[_Job] = []
        self._ready = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.stats = PoolStats()

    def submit(
        self, audio: np.ndarray, language: str | None, *, urgent: bool = True
    ) -> Future[Segments]:
        """Queue 16 kHz float32 ``audio``; the future holds (text, no-speech probability) per piece.

        Cancelling the future drops the pieces no pass has taken yet.
        """
        parts = pieces(audio)
        request = _Request(Future(), [None] * len(parts), len(parts))
        with self._ready:
            if self._closed:
                raise RuntimeError("the Whisper pool is closed")
            self._start()
            self.stats.requests += 1
            priority = 0 if urgent else 1
            for index, part in enumerate(parts):
                piece = Piece(part, language)
                self._queue.append(_Job(priority, next(self._seq), piece, request, index))
            self._ready.notify()
        return request.future

    async def transcribe(
        self, audio: np.ndarray, language: str | None, *, urgent: bool = True
    ) -> Segments:
        """:meth:`submit`, awaited; cancelling the caller cancels what is still queued."""
        return await asyncio.wrap_future(self.submit(audio, language, urgent=urgent))

    @property
    def pending(self) -> int:
        """Pieces waiting for a pass."""
        with self._ready:
            return len(self._queue)

    def close(self) -> None:
        """Stop the workers once their current pass ends; queued work is cancelled."""
        with self._ready:
            self._closed = True
            for job in self._queue:
                job.request.future.cancel()
            self._queue.clear()
            self._ready.notify_all()

    def _start(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name="whisper-pool", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _take(self) -> list[_Job]:
        self._queue = [job for job in self._queue if not job.request.future.cancelled()]
        self._queue.sort()
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        return batch

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._closed and not self._queue:
                    self._ready.wait()
                if self._closed:
                    return
                batch = self._take()
            if batch:
                self._decode(batch)

    def _decode(self, batch: list[_Job]) -> None:
        try:
            results = self._decoder([job.piece for job in batch])
        except Exception as e:  # fail the calls in this pass, never the worker
            logger.exception(f"Whisper pass of {len(batch)} pieces failed")
            for job in batch:
                _settle(job.request.future, error=e)
            return
        finished: list[_Request] = []
        with self._ready:  # another worker may hold pieces of the same request
            self._count(len(batch))
            for job, result in zip(batch, results, strict=True):
                job.request.results[job.index] = result
                job.request.remaining -= 1
                if job.request.remaining == 0:
                    finished.append(job.request)
        for request in finished:
            _settle(request.future, result=[r for r in request.results if r is not None])

    def _count(self, size: int) -> None:
        stats = self.stats
        stats.pieces += size
        stats.batches += 1
        stats.largest_batch = max(stats.largest_batch, size)
        stats.batch_sizes = [*stats.batch_sizes[-99:], size]


def _settle(
    future: Future[Segments], *, result: Segments | None = None, error: Exception | None = None
) -> None:
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or [])
    except InvalidStateError:  # cancelled meanwhile
        pass
