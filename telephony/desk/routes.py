"""The agent console's live feeds and actions: offers, live transcripts, accept and decline."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from sqlalchemy import select

from crm.agents import may_follow
from crm.api.agent_records import TransferOut, transfer_json
from crm.api.http import CRM, PRINCIPAL, ApiError, Out, Routes, actor, not_found
from crm.api.transfers import transfer_for
from crm.audit import audit
from crm.models import Agent, Utterance, utcnow
from crm.shapes import iso
from telephony.dependencies import DEPS
from telephony.desk.access import assistant_queues, followable
from telephony.feed import CallEnded, Missed, TranscriptLine
from telephony.live import LIVE

api = Routes("console")

# An SSE comment this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECS = 15.0


class LiveCallOut(Out):
    """A live call an agent may follow."""

    call_id: str
    assistant: str | None
    direction: str
    provider: str
    started_at: str
    lead_id: str | None
    phone: str | None
    queues: list[str]


class LiveCallList(Out):
    """The live calls of the caller's queues (every live call, for the admin)."""

    data: list[LiveCallOut]


async def sse(request: web.Request) -> web.StreamResponse:
    """An open server-sent-events answer."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    return response


async def send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    """One event."""
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


def line_json(line: TranscriptLine | Utterance) -> dict[str, Any]:
    """A transcript line as the console shows it."""
    return {
        "seq": line.seq,
        "role": line.role,
        "text": line.text,
        "startedAt": iso(line.started_at),
        "interrupted": line.interrupted,
    }


@api.route("GET", "/api/console/events", response_type="text/event-stream", agents=True)
async def console_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each transfer offered to this agent (every offer, for the admin)."""
    principal = request[PRINCIPAL]
    desk = request.app[DEPS].desk
    if desk is None:
        raise ApiError(503, "no_desk", "the agent desk is not running")
    watch = desk.watch(principal.subject if principal.role == "agent" else None)
    response = await sse(request)
    try:
        await send(response, "hello", {"role": principal.role, "subject": principal.subject})
        events = aiter(watch)
        while True:
            try:
                event = await asyncio.wait_for(anext(events), KEEPALIVE_SECS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            await send(response, event["type"], event["offer"])
    except (StopAsyncIteration, ConnectionError):
        pass
    finally:
        watch.close()
    return response


@api.route("GET", "/api/calls/{call_id}/live", response_type="text/event-stream", agents=True)
async def live_transcript(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the call's transcript so far, then each line as it is written."""
    call = await followable(request, request.match_info["call_id"])
    subscription = request.app[LIVE].subscribe(call.id)
    response = await sse(request)
    try:
        async with request.app[CRM].db.session() as session:
            lines = await session.scalars(
                select(Utterance).where(Utterance.call_id == call.id).order_by(Utterance.seq)
            )
            for line in lines:
                await send(response, "line", line_json(line))
        if subscription is None:
            await send(response, "end", {"reason": call.end_reason or "not live here"})
            return response
        with subscription:
            async for event in subscription:
                if isinstance(event, TranscriptLine):
                    await send(response, "line", line_json(event))
                elif isinstance(event, Missed):
                    await send(response, "missed", {"count": event.count})
                elif isinstance(event, CallEnded):
                    await send(response, "end", {"reason": event.reason})
    except ConnectionError:
        pass
    return response


@api.route("GET", "/api/console/calls", response=LiveCallList, agents=True)
async def live_calls(request: web.Request) -> web.Response:
    """The live calls this agent may follow (those of their queues), oldest first."""
    principal, deps = request[PRINCIPAL], request.app[DEPS]
    agent = None
    if principal.role == "agent":
        async with request.app[CRM].db.session() as session:
            agent = await session.get(Agent, principal.subject or "")
    data = []
    for info in request.app[LIVE].list():
        queues = assistant_queues(deps.assistants, info.assistant)
        if principal.role == "admin" or (agent and may_follow(agent, queues)):
            data.append(
                {
                    "callId": info.call_id,
                    "assistant": info.assistant,
                    "direction": info.direction,
                    "provider": info.provider,
                    "startedAt": iso(info.started_at),
                    "leadId": info.lead_id,
                    "phone": info.phone,
                    "queues": sorted(queues),
                }
            )
    return web.json_response({"data": data})


async def _offered(request: web.Request, session) -> Any:
    transfer = await transfer_for(request, session)
    principal = request[PRINCIPAL]
    if principal.role != "agent" or transfer.agent_id != principal.subject:
        raise ApiError(403, "forbidden", "only the agent being offered a transfer may answer it")
    if transfer.status not in ("offered", "ringing", "answered"):
        raise ApiError(409, "not_offered", f"this transfer is {transfer.status}")
    return transfer


@api.route(
    "POST", "/api/transfers/{transfer_id}/accept", response=TransferOut, status=200, agents=True
)
async def accept(request: web.Request) -> web.Response:
    """Take the offered transfer, then answer the phone: the caller is bridged after the whisper."""
    desk = request.app[DEPS].desk
    async with request.app[CRM].db.session() as session:
        transfer = await _offered(request, session)
        transfer.accepted_at = transfer.accepted_at or utcnow()
        audit(session, actor(request), "transfer.accept", "transfer", transfer.id)
        body = transfer_json(transfer)
    offer = desk.offers.get(transfer.id) if desk else None
    if desk and offer:
        desk.publish({**offer, "acceptedAt": body["acceptedAt"]})
    return web.json_response(body)


@api.route(
    "POST", "/api/transfers/{transfer_id}/decline", response=TransferOut, status=200, agents=True
)
async def decline(request: web.Request) -> web.Response:
    """Turn the offered transfer down: the phone stops ringing and the next agent is tried."""
    desk = request.app[DEPS].desk
    async with request.app[CRM].db.session() as session:
        transfer = await _offered(request, session)
        if desk is None or not desk.decline(transfer.id, request[PRINCIPAL].subject):
            raise not_found("offer")
        audit(session, actor(request), "transfer.decline", "transfer", transfer.id)
        body = transfer_json(transfer)
    return web.json_response(body)
