"""What a burst of calls leaves behind in memory: glibc's malloc arenas, bounded and trimmed."""

from __future__ import annotations

import ctypes
import ctypes.util
import time

from loguru import logger

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc only: musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (MALLOC_ARENA_MAX); call before the worker threads start.

    glibc gives threads that allocate at once their own arena, up to eight per core,
    and an arena's freed memory mostly stays in the process: the speech threads of a
    burst of calls (STT, TTS, VAD) leave RSS at the burst's peak for good. A few arenas
    cost little contention here, since the heavy work runs in native code that
    allocates in large blocks. Returns whether the cap was set (glibc only).
    """
    if _LIBC is None or arenas <= 0:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> float:
    """Hand memory malloc holds free back to the system (``malloc_trim``); blocking.

    Returns:
        The seconds it took (glibc walks every arena; tens of ms after a burst).
    """
    if _LIBC is None:
        return 0.0
    started = time.perf_counter()
    _LIBC.malloc_trim(0)
    took = time.perf_counter() - started
    logger.debug(f"released free memory to the system in {took * 1000:.0f} ms")
    return took
