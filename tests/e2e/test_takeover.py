"""Listen-in and takeover of a live call: who may, the audio from the call's tap, the audit log."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from crm.db import Database
from crm.models import AuditLog
from tests.conftest import ServerProcess
from tests.e2e.desk import caller, only_agent, wait_until
from tests.fakes.twilio_rest import FakeTwilio
from tests.web.conftest import api

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def listen_status(server: ServerProcess, call_id: str, headers: dict[str, str]) -> int:
    """The status a listen-in upgrade is answered with (101 when it opened)."""
    url = server.url.replace("http", "ws", 1) + f"/api/calls/{call_id}/listen"
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


async def listened(server: ServerProcess, call_id: str, token: str) -> tuple[dict, int]:
    """Listen until some audio came: the start message and how many audio frames."""
    url = server.url.replace("http", "ws", 1) + f"/api/calls/{call_id}/listen"
    frames, start = 0, {}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, headers=bearer(token)) as ws:
            start = await ws.receive_json(timeout=10)
            while frames < 25:
                message = await ws.receive(timeout=20)
                if message.type == aiohttp.WSMsgType.BINARY:
                    side, rate = message.data[0], int.from_bytes(message.data[1:5], "little")
                    assert side in (0, 1) and rate in (8000, 16000, 22050, 24000)
                    frames += 1
                elif message.type != aiohttp.WSMsgType.TEXT:
                    break
    # The server answered our close (1006: it never read it and the close timed out,
    # leaving its side of the listen running on a silent call).
    assert ws.close_code == 1000, ws.close_code
    return start, frames


async def test_an_agent_of_the_queue_listens_and_takes_over_others_are_refused(
    tools_server: ServerProcess, conferences: FakeTwilio
):
    twilio = conferences
    eve = await only_agent(tools_server, "Eve Agent", "+15555550394")
    status, fay = await api(
        tools_server,
        "POST",
        "/api/agents",
        json={"name": "Fay Agent", "phone": "+15555550393", "queues": ["billing"]},
    )
    assert status == 201
    async with caller(tools_server, twilio, "+15555550135") as call:
        await call.wait_for_bot()
        live = f"/api/calls/{call.call_id}/live"
        async with aiohttp.ClientSession() as http:
            async with http.get(tools_server.url + live) as response:
                assert response.status == 401, "no token"
            async with http.get(tools_server.url + live, headers=bearer(fay["token"])) as response:
                assert response.status == 403, "an agent of another queue"
                assert (await response.json())["error"] == "forbidden"
        assert await listen_status(tools_server, call.call_id, {}) == 401
        assert await listen_status(tools_server, call.call_id, bearer(fay["token"])) == 403
        start, frames = await listened(tools_server, call.call_id, eve["token"])
        assert start == {"type": "start", "callId": call.call_id} and frames == 25

        for who, expected in ((bearer(fay["token"]), 403), ({}, 401)):
            async with aiohttp.ClientSession() as http:
                url = tools_server.url + f"/api/calls/{call.call_id}/takeover"
                async with http.post(url, headers=who) as response:
                    assert response.status == expected
        status, refused = await api(tools_server, "POST", f"/api/calls/{call.call_id}/takeover")
        assert status == 400 and refused["error"] == "not_an_agent", "the admin has no phone"
        async with aiohttp.ClientSession() as http:
            url = tools_server.url + f"/api/calls/{call.call_id}/takeover"
            async with http.post(url, headers=bearer(eve["token"])) as response:
                assert response.status == 202, await response.text()
                takeover = await response.json()
        assert takeover["kind"] == "takeover" and takeover["agentId"] == eve["id"]
        await wait_until(
            lambda: any(e.startswith("conference:participant-unhold") for _, e in twilio.timeline)
        )
        body = await tools_server.call(call.call_id)
    assert body["endReason"] == "taken-over", "the AI left the call"
    [transfer] = body["transfers"]
    assert (transfer["kind"], transfer["status"], transfer["queue"]) == (
        "takeover",
        "bridged",
        "sales",
    )
    [conference] = twilio.conferences.values()
    agent_leg = conference.by_label(f"agent-{eve['id']}")
    assert agent_leg is not None and "took the call over" in agent_leg.announcements[0]

    database = Database(tools_server.database_url)
    try:
        async with database.session() as session:
            entries = list(
                await session.scalars(select(AuditLog).where(AuditLog.entity_id == call.call_id))
            )
    finally:
        await database.close()
    assert [(e.actor, e.action) for e in entries] == [
        (f"api:agent:{eve['id']}", "call.listen"),
        (f"api:agent:{eve['id']}", "call.takeover"),
    ]
