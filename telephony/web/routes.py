"""The Talk socket: a call with an assistant from the browser, ``/api/assistants/{name}/talk``."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

from aiohttp import web
from loguru import logger

from crm.api.http import ApiError, Routes, actor, not_found
from crm.calls import NewCall
from telephony.capacity import CAPACITY
from telephony.dependencies import DEPS
from telephony.feed import CallEnded, Subscription, ToolCalled, TranscriptLine
from telephony.live import LIVE
from telephony.opening import open_call
from telephony.session import CallSession
from telephony.web.leg import BrowserLeg
from telephony.web.serializer import INPUT_RATE, OUTPUT_RATE, BrowserAudioSerializer

api = Routes("talk")
routes = api.table

# The origin (scheme://host[:port]) the dashboard is served from, besides the request's own.
PUBLIC_ORIGIN = web.AppKey("web_public_origin", str)
MAX_MESSAGE_BYTES = 64 * 1024  # 20 ms of 16 kHz PCM is 640 bytes
BUSY_CLOSE_CODE = 1013  # RFC 6455's "Try Again Later"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lowercased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origin(request: web.Request) -> bool:
    """Whether a websocket upgrade comes from our own pages.

    An upgrade is a GET, so the CSRF token is not asked for; a browser always sends
    ``Origin`` with it, and another site's page must not open a call with the
    signed-in admin's cookie. A client that is not a browser (``phoneagent-call
    --mic``) sends no ``Origin`` and proves itself with the API key.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {origin_of(f"{request.scheme}://{request.host}"), request.app[PUBLIC_ORIGIN]}
    return origin.lower() in ours


@api.route(
    "GET", "/api/assistants/{name}/talk", response_type="application/octet-stream", status=101
)
async def talk(request: web.Request) -> web.StreamResponse:
    """Hold a call with the assistant over this websocket (see ``BrowserAudioSerializer``)."""
    if not allowed_origin(request):
        logger.warning(f"talk: refused an upgrade from origin {request.headers.get('Origin')!r}")
        raise ApiError(
            403, "forbidden_origin", "the Talk socket opens only from this server's pages"
        )
    deps, name = request.app[DEPS], request.match_info["name"]
    entry = deps.assistants.book.assistants.get(name)
    if entry is None:
        raise not_found("assistant")
    if entry.unavailable:
        raise ApiError(
            409, "assistant_unavailable", f"{name} cannot take calls: {entry.unavailable}"
        )
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "websocket_required", "open this path as a websocket")
    capacity, line = request.app.get(CAPACITY), uuid.uuid4().hex
    await ws.prepare(request)
    if capacity is not None and not capacity.admit(line):
        return await _busy(ws, capacity.max_calls)
    call, entry = await open_call(
        deps,
        NewCall(
            provider="web",
            provider_call_id=line,
            assistant=name,
            status="in-progress",
            extra={"talkedBy": actor(request)},
        ),
    )
    await deps.calls.stream_started(call.id, call.provider_call_id or "")
    logger.info(f"call {call.id}: browser call → assistant '{name}'")
    await ws.send_json(
        {
            "type": "start",
            "callId": call.id,
            "assistant": name,
            "inputRate": INPUT_RATE,
            "outputRate": OUTPUT_RATE,
        }
    )
    session = CallSession(deps, call, entry, BrowserLeg(ws, BrowserAudioSerializer()))
    forwarding = asyncio.create_task(_forward(session.feed.subscribe(), ws))
    if capacity is not None:
        capacity.settled(line)  # the line passes to the call as hold() registers it
    try:
        await request.app[LIVE].hold(session)
    finally:
        forwarding.cancel()
    return ws


async def _busy(ws: web.WebSocketResponse, max_calls: int) -> web.WebSocketResponse:
    """Every line is busy: say so (an ``error`` message), then close with 1013, Try Again Later.

    A browser cannot read the body of a refused upgrade, so the socket opens and says why.
    """
    detail = f"Every line is busy ({max_calls} calls at once). Please try again in a minute."
    await ws.send_json({"type": "error", "error": "all_lines_busy", "detail": detail})
    await ws.close(code=BUSY_CLOSE_CODE, message=b"all lines busy")
    return ws


async def _forward(events: Subscription, ws: web.WebSocketResponse) -> None:
    """The call's transcript, as it is written, to the page (text messages beside the audio)."""
    with events:
        async for event in events:
            if isinstance(event, TranscriptLine):
                message = {
                    "type": "transcript",
                    "seq": event.seq,
                    "role": event.role,
                    "text": event.text,
                    "interrupted": event.interrupted,
                }
            elif isinstance(event, ToolCalled):
                message = {"type": "tool", "name": event.name, "ok": event.ok}
            elif isinstance(event, CallEnded):
                message = {"type": "end", "reason": event.reason}
            else:
                continue
            if ws.closed:
                return
            try:
                await ws.send_json(message)
            except (ConnectionError, RuntimeError):
                return
