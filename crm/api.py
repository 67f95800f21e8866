"""Admin REST API under /api: JSON, behind ``Authorization: Bearer <API_KEY>``."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from crm.calls import CallStore
from crm.models import Call, Utterance

routes = web.RouteTableDef()

STORE = web.AppKey("call_store", CallStore)
API_KEY = web.AppKey("api_key", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse /api requests without the admin bearer key (401, JSON body)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    expected = request.app[API_KEY]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        return web.json_response(
            {"error": "unauthorized", "detail": "send Authorization: Bearer <API_KEY>"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await handler(request)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"error": "invalid_parameter", "detail": "{name} must be an integer"}}',
            content_type="application/json",
        ) from None
    return max(low, min(high, value))


@routes.get("/api/calls")
async def list_calls(request: web.Request) -> web.Response:
    """A page of calls, newest first: ``?limit=50&offset=0``."""
    limit = _int_param(request, "limit", 50, 1, 500)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    calls, total = await request.app[STORE].list(limit=limit, offset=offset)
    return web.json_response(
        {"data": [call_summary(c) for c in calls], "total": total, "limit": limit, "offset": offset}
    )


@routes.get("/api/calls/{call_id}")
async def get_call(request: web.Request) -> web.Response:
    """One call with its transcript and latency figures."""
    call = await request.app[STORE].get(request.match_info["call_id"], with_transcript=True)
    if call is None:
        return web.json_response({"error": "not_found", "detail": "no such call"}, status=404)
    body = call_summary(call)
    body["transcript"] = [utterance_json(u) for u in call.utterances]
    body["latency"] = call.latency
    return web.json_response(body)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_summary(call: Call) -> dict[str, Any]:
    """The JSON shape of a call in lists."""
    return {
        "id": call.id,
        "provider": call.provider,
        "providerCallId": call.provider_call_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "assistant": call.assistant,
        "leadId": call.lead_id,
        "campaignId": call.campaign_id,
        "status": call.status,
        "createdAt": _iso(call.created_at),
        "startedAt": _iso(call.started_at),
        "answeredAt": _iso(call.answered_at),
        "endedAt": _iso(call.ended_at),
        "durationSeconds": call.duration_seconds,
        "endReason": call.end_reason,
    }


def utterance_json(line: Utterance) -> dict[str, Any]:
    """The JSON shape of a transcript line."""
    return {
        "seq": line.seq,
        "role": line.role,
        "text": line.text,
        "startedAt": _iso(line.started_at),
        "endedAt": _iso(line.ended_at),
        "interrupted": line.interrupted,
        "latency": line.latency,
    }
