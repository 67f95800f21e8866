"""Listen-in and takeover: a live call's audio over a websocket, and an agent taking it over."""

from __future__ import annotations

import asyncio
import struct

from aiohttp import web
from loguru import logger

from agent.tools import TransferFailed
from crm.api.agent_records import TransferOut, transfer_json
from crm.api.http import CRM, PRINCIPAL, ApiError, Routes, actor
from crm.audit import audit
from crm.models import Agent, Transfer, new_id
from telephony.audio_tap import AudioStream, BotCut, TappedAudio
from telephony.dependencies import DEPS
from telephony.desk.access import assistant_queues, followable
from telephony.live import LIVE, TakeOver
from telephony.web.routes import allowed_origin

api = Routes("console")

SIDES = {"caller": 0, "bot": 1}


def audio_message(piece: TappedAudio) -> bytes:
    """One side's audio as sent: the side (0 caller, 1 assistant), its rate (uint32 LE), PCM."""
    return struct.pack("<BI", SIDES[piece.side], piece.sample_rate) + piece.audio


@api.route(
    "GET", "/api/calls/{call_id}/listen", response_type="application/octet-stream", agents=True
)
async def listen(request: web.Request) -> web.StreamResponse:
    """Listen to a live call over this websocket: both sides' audio as heard (see ``listen.js``).

    Text messages say ``start`` and ``end`` (and ``cut``: the caller talked over the
    assistant); each binary one is one side's PCM (:func:`audio_message`). Every listen is
    in the audit log.
    """
    if not allowed_origin(request):
        raise ApiError(403, "forbidden_origin", "listen-in opens only from this server's pages")
    call = await followable(request, request.match_info["call_id"])
    stream = request.app[LIVE].listen(call.id)
    if stream is None:
        raise ApiError(409, "not_live", "the call is not live on this server")
    ws = web.WebSocketResponse(heartbeat=30)
    if not ws.can_prepare(request).ok:
        stream.close()
        raise ApiError(400, "websocket_required", "open this path as a websocket")
    async with request.app[CRM].db.session() as session:
        audit(session, actor(request), "call.listen", "call", call.id)
    await ws.prepare(request)
    logger.info(f"call {call.id}: {actor(request)} listens in")
    # Read what the listener sends (nothing but its close): a listener that goes away
    # ends the stream at once, not at the next audio, and its close is answered.
    reader = asyncio.create_task(_until_closed(ws, stream))
    try:
        await ws.send_json({"type": "start", "callId": call.id})
        async for event in stream:
            if ws.closed:
                break
            if isinstance(event, TappedAudio):
                await ws.send_bytes(audio_message(event))
            elif isinstance(event, BotCut):
                await ws.send_json({"type": "cut"})
        if not ws.closed:
            await ws.send_json({"type": "end"})
    except (ConnectionError, RuntimeError):
        pass
    finally:
        stream.close()
        await ws.close()
        reader.cancel()
    return ws


async def _until_closed(ws: web.WebSocketResponse, stream: AudioStream) -> None:
    async for _ in ws:
        pass
    stream.close()


@api.route("POST", "/api/calls/{call_id}/takeover", response=TransferOut, status=202, agents=True)
async def take_over(request: web.Request) -> web.Response:
    """Take a live call over: the AI stops and leaves, your phone rings and is bridged in."""
    principal = request[PRINCIPAL]
    if principal.role != "agent":
        raise ApiError(400, "not_an_agent", "only an agent (who has a phone) can take a call over")
    call = await followable(request, request.match_info["call_id"])
    async with request.app[CRM].db.session() as session:
        agent = await session.get(Agent, principal.subject)
    queues = assistant_queues(request.app[DEPS].assistants, call.assistant)
    queue = next((q for q in sorted(queues) if agent and q in (agent.queues or [])), None)
    transfer_id = new_id()
    try:
        taken = await request.app[LIVE].deliver(
            call.id, TakeOver(principal.subject or "", transfer_id, queue)
        )
    except TransferFailed as e:
        raise ApiError(409, "cannot_take_over", str(e)) from None
    if not taken:
        raise ApiError(409, "not_live", "the call is not live on this server")
    async with request.app[CRM].db.session() as session:
        transfer = await session.get(Transfer, transfer_id)
        audit(
            session, actor(request), "call.takeover", "call", call.id, {"transferId": transfer_id}
        )
        body = transfer_json(transfer) if transfer else None
    if body is None:
        raise ApiError(409, "cannot_take_over", "the call could not be taken over")
    return web.json_response(body, status=202)
