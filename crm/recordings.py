"""Where call recordings are kept: the storage interface, and its data-directory implementation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from loguru import logger

# What a recording's file name says it holds, as served (see voice.recording_file).
CONTENT_TYPES = {".ogg": "audio/ogg", ".opus": "audio/ogg", ".wav": "audio/wav"}
READ_CHUNK = 64 * 1024
# The call columns that point at its recording, all forgotten with it (retention, GDPR erase).
NO_RECORDING = {
    "recording_url": None,
    "recording_key": None,
    "recording_started_at": None,
    "recording_seconds": None,
    "recording_bytes": None,
}


class RecordingStorage(Protocol):
    """Keeps recordings by key: calls write them; the API, retention and GDPR read or delete them.

    A recording is written as a plain local file while the call runs (so a crash
    leaves a playable file), then :meth:`finished` makes it durable where the
    storage keeps it. :class:`LocalRecordings` keeps it in place under the data
    directory; an S3-compatible bucket would write to a local spool file, upload it
    in :meth:`finished` (and delete the spool), serve :meth:`read` with ranged GETs
    and :meth:`delete` with DeleteObjects. Nothing outside this interface knows where
    a recording lies.
    """

    def new_key(self, call_id: str, started_at: datetime, suffix: str) -> str:
        """A fresh key for a call's recording (``suffix`` is the format's, e.g. ``.ogg``)."""
        ...

    def writable_path(self, key: str) -> Path:
        """The local file to write the recording to while the call runs (parents made)."""
        ...

    async def finished(self, key: str) -> int:
        """The recording is complete: keep it for good; returns its size in bytes."""
        ...

    async def size(self, key: str) -> int | None:
        """The stored size in bytes (a call in progress: so far), or None when it is not there."""
        ...

    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of the recording, in chunks."""
        ...

    async def delete(self, keys: Iterable[str]) -> int:
        """Delete recordings (missing ones are skipped); returns how many were deleted."""
        ...


def content_type(key: str) -> str:
    """The media type a recording is served as, from its key's suffix."""
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


class LocalRecordings:
    """:class:`RecordingStorage` in a folder (``DATA_DIR/recordings``), one file per call.

    Keys are ``YYYY/MM/<call id><suffix>``, so no folder grows without bound.
    """

    def __init__(self, root: Path):
        """Keep recordings under ``root`` (created on the first recording)."""
        self.root = root.resolve()

    def new_key(self, call_id: str, started_at: datetime, suffix: str) -> str:
        """``YYYY/MM/<call id><suffix>``."""
        return f"{started_at:%Y/%m}/{call_id}{suffix}"

    def path(self, key: str) -> Path:
        """The file of ``key``.

        Raises:
            ValueError: The key would lead outside the recordings folder.
        """
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"not a recording key: {key!r}")
        return self.root.joinpath(*relative.parts)

    def writable_path(self, key: str) -> Path:
        """The file itself: a local recording is finished where it was written."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    async def finished(self, key: str) -> int:
        """Nothing to move; the size as written."""
        return (await self.size(key)) or 0

    async def size(self, key: str) -> int | None:
        """The file's size, or None."""
        try:
            return self.path(key).stat().st_size
        except (OSError, ValueError):
            return None

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The file's bytes ``[start, end)``, read off the event loop."""
        handle = await asyncio.to_thread(open, self.path(key), "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def delete(self, keys: Iterable[str]) -> int:
        """Remove the files (a missing one is no error)."""
        return await asyncio.to_thread(self._delete, list(keys))

    def _delete(self, keys: list[str]) -> int:
        deleted = 0
        for key in keys:
            try:
                os.unlink(self.path(key))
                deleted += 1
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as e:
                logger.error(f"recording {key}: could not delete: {e}")
        return deleted
