"""A call's own recording, served with Range so a browser's audio element can seek in it."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from aiohttp import web

from crm.api.http import CRM, ApiError, Routes, not_found
from crm.models import Call
from crm.recordings import RecordingStorage, content_type

api = Routes("calls")

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(ValueError):
    """A Range header that asks for no byte of the file (answered 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range: bytes=...`` header asks of ``size`` bytes; None for all.

    One range only (what media elements send); a header we do not read (several
    ranges, another unit) is ignored and the whole file is sent, as RFC 9110 allows.

    Raises:
        Unsatisfiable: The range starts past the end, or asks for the last 0 bytes.
    """
    found = _RANGE.match((header or "").strip())
    if not found or not any(found.groups()):
        return None
    first, last = found.groups()
    if not first:  # bytes=-N: the last N bytes
        count = int(last)
        if count == 0:
            raise Unsatisfiable(header)
        return max(0, size - count), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or end <= start:
        raise Unsatisfiable(header)
    return start, end


async def _recording_of(request: web.Request) -> tuple[RecordingStorage, str, int]:
    call_id = request.match_info["call_id"]
    async with request.app[CRM].db.session() as session:
        call = await session.get(Call, call_id)
    if call is None:
        raise not_found("call")
    storage = request.app[CRM].recordings
    if not call.recording_key or storage is None:
        detail = "this call was not recorded here"
        if call.recording_url:
            detail += f"; its provider keeps it at {call.recording_url}"
        raise ApiError(404, "no_recording", detail)
    size = await storage.size(call.recording_key)
    if size is None:
        raise ApiError(404, "no_recording", "the call's recording is no longer stored")
    return storage, call.recording_key, size


@api.route("GET", "/api/calls/{call_id}/recording", response_type="audio/ogg")
async def get_recording(request: web.Request) -> web.StreamResponse:
    """The call's recording (Ogg Opus, stereo: the caller left, the assistant as heard right)."""
    storage, key, size = await _recording_of(request)
    name = f"call-{request.match_info['call_id']}{PurePosixPath(key).suffix}"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": content_type(key),
        "Cache-Control": "private, no-cache",
        "Content-Disposition": f'inline; filename="{name}"',
    }
    try:
        wanted = byte_range(request.headers.get("Range"), size) if size else None
    except Unsatisfiable:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200, headers=headers)
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.content_length = end - start
    await response.prepare(request)
    async for chunk in storage.read(key, start, end):
        await response.write(chunk)
    await response.write_eof()
    return response
