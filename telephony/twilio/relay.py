"""A media stream that landed on one instance, passed on to the instance holding its call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from loguru import logger


async def relay_stream(
    ws: web.WebSocketResponse,
    start: dict[str, Any],
    holder_url: str,
    http: aiohttp.ClientSession,
    max_message_bytes: int,
) -> None:
    """Pass Twilio's stream on to ``holder_url``'s ``/twilio/stream``, both ways, until it ends.

    After a live-call update (keys played) Twilio opens the call's next stream wherever
    the load balancer sends it; the instance holding the call waits for it. This one
    replays ``connected`` and the ``start`` it read (the call id and signed token in its
    parameters prove it there too), then copies every message across until either side
    closes.
    """
    target = holder_url.replace("http", "ws", 1).rstrip("/") + "/twilio/stream"
    async with http.ws_connect(target, max_msg_size=max_message_bytes) as upstream:
        await upstream.send_str(json.dumps({"event": "connected", "protocol": "Call"}))
        opening = {"event": "start", "sequenceNumber": "1", "start": start}
        await upstream.send_str(json.dumps(opening | {"streamSid": start.get("streamSid")}))
        copies = [
            asyncio.create_task(_copy(ws, upstream)),
            asyncio.create_task(_copy(upstream, ws)),
        ]
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        for task in copies:
            task.cancel()
        await asyncio.gather(*copies, return_exceptions=True)
    if not ws.closed:
        await ws.close()


async def _copy(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
    if not sink.closed:
        await sink.close()
    logger.debug("stream relay: one side closed")
