"""A call's outgoing audio: PCM queued by the pipeline, taken 20 ms at a time by the media clock."""

from __future__ import annotations

import threading
from collections import deque

SAMPLE_RATE = 8000
FRAME_MSEC = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MSEC // 1000 * 2  # 16-bit mono
SILENCE = bytes(FRAME_BYTES)


class OutgoingAudio:
    """PCM (8 kHz, 16-bit mono) waiting to be sent, with playback marks between the audio.

    Written from the asyncio loop, read by PJSIP's media clock thread, so every
    method takes one short lock. :meth:`clear` drops everything at once: what is
    not yet handed to RTP is never sent (barge-in). A mark is reached when all
    audio queued before it has been handed to RTP, the SIP equivalent of a
    Twilio mark echo.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._pcm = bytearray()
        self._taken = 0  # bytes taken since the start of the call
        self._queued = 0  # bytes queued since the start of the call
        self._marks: deque[tuple[int, str]] = deque()  # (byte position, name)

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting to be sent."""
        with self._lock:
            return len(self._pcm)

    def push(self, pcm: bytes) -> None:
        """Queue PCM after what is already queued (an odd trailing byte is dropped)."""
        if len(pcm) % 2:
            pcm = pcm[:-1]
        with self._lock:
            self._pcm += pcm
            self._queued += len(pcm)

    def mark(self, name: str) -> None:
        """Queue a mark after the audio queued so far."""
        with self._lock:
            self._marks.append((self._queued, name))

    def clear(self) -> list[str]:
        """Drop all queued audio and marks; returns the marks dropped (never reached)."""
        with self._lock:
            dropped = [name for _, name in self._marks]
            self._marks.clear()
            self._queued = self._taken
            self._pcm.clear()
        return dropped

    def take(self) -> tuple[bytes | None, list[str]]:
        """One frame to send (None when nothing is queued) and the marks it reaches.

        A short tail is padded with silence, so a frame is always 20 ms.
        """
        with self._lock:
            if not self._pcm:
                return None, self._reached()
            frame = bytes(self._pcm[:FRAME_BYTES])
            del self._pcm[:FRAME_BYTES]
            self._taken += len(frame)
            marks = self._reached()
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame, marks

    def _reached(self) -> list[str]:
        reached = []
        while self._marks and self._marks[0][0] <= self._taken:
            reached.append(self._marks.popleft()[1])
        return reached
