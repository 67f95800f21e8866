"""Big admin jobs beside live calls: sharing the interpreter with the event loop's thread."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

# How long a worker thread's CPU-bound loop steps aside, and how often (in items).
STEP_ASIDE_SECONDS = 0.001
STEP_ASIDE_EVERY = 50

_paused = 0  # jobs running now that paused the collector (the event loop's thread only)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration of a big, allocating job.

    A full collection walks every object in the process (pipecat's, the speech models')
    holding the GIL, whichever thread triggers it: during a 24,000-row CSV import three of
    them took 0.3-0.7 s each, and the event loop (every live call's audio) stood still that
    long. A job's objects are freed by reference counting; the collector resumes when the
    last job that paused it ends. Use it from the event loop's thread.
    """
    global _paused
    if _paused == 0 and not gc.isenabled():  # someone else turned it off: leave it so
        yield
        return
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()


def step_aside(count: int) -> None:
    """Let the event loop's thread run: call it once per item of a long CPU-bound loop in a
    worker thread (every STEP_ASIDE_EVERY items it sleeps STEP_ASIDE_SECONDS).

    A thread that computes holds the GIL; the loop's thread gets it back only at the
    interpreter's switch interval and when the OS schedules it then, which on a busy
    machine left it waiting 50-130 ms at a time during a 24,000-row import (p99 ~90 ms).
    Releasing it on purpose brought the worst wait under 40 ms for a few ms more of work.
    """
    if count % STEP_ASIDE_EVERY == 0:
        time.sleep(STEP_ASIDE_SECONDS)
