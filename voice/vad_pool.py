"""Silero VAD for every call of the process on one thread, the calls' windows scored together.

The model is small (~0.16 ms a 32 ms window on an idle core) but runs 31 times a
second per call: measured at 8 calls on 2 cores (py-spy), the VAD's ONNX run was
15.8 % of the event loop's samples, ~0.6 ms a window on the loaded box, the largest
share of a loop at 100 % of a core. Off the loop, one run scores the window each
call has due (8 windows in one run take 0.6 ms, 0.08 ms each), and the interpreter
lock is free while it runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnxruntime
from loguru import logger
from pipecat.audio.vad.silero import SileroOnnxModel

# Windows of one call scored in a row within one pass (a call's audio that arrived in
# a burst); the rest wait for the next pass, behind the other calls' windows.
MAX_WINDOWS_PER_PASS = 16

Scored = Callable[[list[float]], None]


@dataclass
class _Request:
    model: SileroOnnxModel
    windows: list[bytes]
    sample_rate: int
    after_window: Callable[[float], None]
    done: Scored
    scores: list[float]


class VADPool:
    """Scores VAD windows for every call on one thread, in batched ONNX runs.

    Each call submits its due windows with its own model state (the recurrent state
    and audio context of :class:`SileroOnnxModel`); a pass runs each call's next
    window in one batch, then the next, and hands every call its confidences back
    on its own event loop. A call has at most one request in the pool at a time
    (``SharedSileroVADAnalyzer`` sends the windows that came meanwhile once its last
    request is back), so only this thread touches a model while its request is in.
    """

    def __init__(self, session: onnxruntime.InferenceSession):
        """Score with ``session`` (the Silero ONNX model); the thread starts on first use."""
        self._session = session
        # SimpleQueue: a put is one C call, no lock for the event loop to wait on.
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failed = False
        self.runs = 0  # ONNX runs, and windows scored: for tests and benchmarks
        self.windows = 0

    @property
    def session(self) -> onnxruntime.InferenceSession:
        """The shared Silero session."""
        return self._session

    def submit(
        self,
        model: SileroOnnxModel,
        windows: list[bytes],
        sample_rate: int,
        *,
        after_window: Callable[[float], None],
        done: Scored,
    ) -> None:
        """Score ``windows`` (16-bit PCM) in order on ``model``'s state.

        ``after_window(confidence)`` runs on the pool's thread after each window (it may
        reset the model); ``done(confidences)`` runs there once all are scored, and must
        hand them to its loop itself (``call_soon_threadsafe``).
        """
        if self._closed:
            raise RuntimeError("the VAD pool is closed")
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="vad", daemon=True)
                    self._thread.start()
        self._queue.put(_Request(model, list(windows), sample_rate, after_window, done, []))

    def close(self) -> None:
        """Stop the thread once its pass ends; requests not yet taken are never answered."""
        self._closed = True
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            requests = [self._queue.get()]
            while True:
                try:
                    requests.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._closed or None in requests:
                return
            try:
                self._pass(requests)
            except Exception as e:  # a bug here must not stop every call's VAD for good
                logger.exception(f"VAD pass failed; its windows count as silence: {e}")
                for request in requests:
                    _answer(request, [0.0] * len(request.windows))

    def _pass(self, requests: list[_Request]) -> None:
        for _ in range(MAX_WINDOWS_PER_PASS):
            due = [r for r in requests if len(r.scores) < len(r.windows)]
            if not due:
                break
            for rate in {r.sample_rate for r in due}:
                self._score([r for r in due if r.sample_rate == rate], rate)
        for request in requests:
            if len(request.scores) < len(request.windows):
                self._queue.put(request)  # a long burst: the rest next pass
        for request in requests:
            if len(request.scores) == len(request.windows):
                _answer(request, request.scores)

    def _score(self, due: list[_Request], rate: int) -> None:
        models = [r.model for r in due]
        x = np.concatenate(
            [_with_context(r.model, r.windows[len(r.scores)], rate) for r in due], axis=0
        )
        state = np.concatenate([m._state for m in models], axis=1)
        try:
            out, state = self._session.run(
                None, {"input": x, "state": state, "sr": np.array(rate, dtype="int64")}
            )
        except Exception as e:  # a broken window must not stop every call's VAD
            if not self._failed:
                logger.error(f"Silero VAD failed (the windows count as silence): {e}")
                self._failed = True
            out = np.zeros((len(due), 1), dtype="float32")
        else:
            for i, model in enumerate(models):
                model._state = state[:, i : i + 1]
                model._context = x[i : i + 1, -_context_size(rate) :]
                model._last_sr, model._last_batch_size = rate, 1
        self.runs += 1
        self.windows += len(due)
        for i, request in enumerate(due):
            confidence = float(out[i, 0])
            request.scores.append(confidence)
            request.after_window(confidence)


def _answer(request: _Request, scores: list[float]) -> None:
    try:
        request.done(scores)
    except Exception as e:  # the call's loop is gone: its call ended
        logger.debug(f"VAD scores for an ended call dropped: {e}")


def _context_size(rate: int) -> int:
    return 64 if rate == 16000 else 32


def _with_context(model: SileroOnnxModel, window: bytes, rate: int) -> np.ndarray:
    """One window as the model takes it: the end of the last window, then this one (as
    ``SileroOnnxModel.__call__`` prepares it)."""
    if model._last_batch_size != 1 or (model._last_sr and model._last_sr != rate):
        model.reset_states(1)
    if not model._context.shape[1]:
        model._context = np.zeros((1, _context_size(rate)), dtype="float32")
    samples = np.frombuffer(window, np.int16).astype(np.float32) / 32768.0
    return np.concatenate((model._context, samples[None, :]), axis=1)
