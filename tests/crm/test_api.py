"""The admin API: bearer key, call list and call detail (JSON), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import api
from crm.calls import CallStore, NewCall, NewUtterance
from crm.db import Database

KEY = "secret-key"


@pytest.fixture
async def client(database: Database):
    app = web.Application(middlewares=[api.require_api_key])
    store = CallStore(database)
    app[api.STORE] = store
    app[api.API_KEY] = KEY
    app.add_routes(api.routes)
    async with TestClient(TestServer(app)) as client:
        client.store = store
        yield client


AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
async def test_api_needs_the_bearer_key(client: TestClient, headers):
    response = await client.get("/api/calls", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


async def test_list_and_detail(client: TestClient):
    call = await client.store.open(NewCall(provider="twilio", provider_call_id="CA9", from_number="+15550009"))
    now = datetime.now(UTC)
    await client.store.add_utterance(call.id, NewUtterance("user", "hello", now, now))
    await client.store.finalize(call.id, end_reason="caller-hangup", latency={"greeting_ms": 200.0})

    response = await client.get("/api/calls?limit=10", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["total"] == 1 and body["data"][0]["id"] == call.id and body["data"][0]["from"] == "+15550009"

    response = await client.get(f"/api/calls/{call.id}", headers=AUTH)
    detail = await response.json()
    assert detail["transcript"] == [
        {"seq": 1, "role": "user", "text": "hello", "startedAt": now.isoformat(), "endedAt": now.isoformat(),
         "interrupted": False, "latency": None}
    ]
    assert detail["latency"] == {"greeting_ms": 200.0} and detail["endReason"] == "caller-hangup"


async def test_unknown_call_and_bad_paging(client: TestClient):
    assert (await client.get("/api/calls/nope", headers=AUTH)).status == 404
    response = await client.get("/api/calls?limit=ten", headers=AUTH)
    assert response.status == 400 and "limit" in (await response.json())["detail"]
