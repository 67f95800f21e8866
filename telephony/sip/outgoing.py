"""A call's outgoing audio: PCM queued by the pipeline, taken 20 ms at a time by the media clock."""

from __future__ import annotations

import threading
from collections import deque

SAMPLE_RATE = 8000
FRAME_MSEC = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MSEC // 1000 * 2  # 16-bit mono
SILENCE = bytes(FRAME_BYTES)
# How much sent audio is remembered, for a pause to play again (``take_back``).
RECENT_BYTES = SAMPLE_RATE * 2  # 1 s


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
        self._recent = bytearray()  # the last audio taken, up to RECENT_BYTES

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

    def take_back(self, replay_bytes: int) -> list[bytes | str]:
        """Drop all queued audio and marks; return them (marks by name), in order, after the
        last ``replay_bytes`` already sent (to send again from a little before the cut), if
        any audio was still queued."""
        with self._lock:
            # Nothing queued: the pause cut nothing off, there is nothing to replay.
            replay_bytes = min(replay_bytes, len(self._recent)) if self._pcm else 0
            replay = bytes(self._recent[len(self._recent) - replay_bytes :])
            held: list[bytes | str] = [replay] if replay else []
            start = self._taken
            for position, name in self._marks:
                held += [bytes(self._pcm[start - self._taken : position - self._taken]), name]
                start = position
            held.append(bytes(self._pcm[start - self._taken :]))
            self._marks.clear()
            self._queued = self._taken
            self._pcm.clear()
            self._recent.clear()
        return [item for item in held if item]

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
            self._recent += frame
            del self._recent[: max(0, len(self._recent) - RECENT_BYTES)]
            marks = self._reached()
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame, marks

    def _reached(self) -> list[str]:
        reached = []
        while self._marks and self._marks[0][0] <= self._taken:
            reached.append(self._marks.popleft()[1])
        return reached
