"""Agents, presence, queues and transfers through /api: tokens, who may see what; both DBs."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from crm.api.auth import COOKIE
from crm.models import Agent, AuditLog, Note, Transfer, utcnow
from telephony.desk.escalation import spoken_caller_id
from tests.crm.conftest import AUTH, SALES_CALL, record_call


async def new_agent(client: TestClient, name: str, queues: list[str], **fields) -> dict:
    response = await client.post(
        "/api/agents",
        json={"name": name, "phone": "+1 415 555 0142", "queues": queues, **fields},
        headers=AUTH,
    )
    assert response.status == 201, await response.text()
    return await response.json()


def bearer(agent: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent['token']}"}


async def test_an_admin_adds_agents_whose_token_is_shown_once(client: TestClient):
    ana = await new_agent(client, "Ana", ["sales"], presence="available")
    assert ana["token"].startswith("agt_") and ana["phone"] == "+14155550142"
    assert ana["presence"] == "available" and ana["queues"] == ["sales"]
    listed = await (await client.get("/api/agents", headers=AUTH)).json()
    assert [a["name"] for a in listed["data"]] == ["Ana"] and "token" not in listed["data"][0]
    async with client.db.session() as session:
        [row] = await session.scalars(select(Agent))
    assert ana["token"] not in row.token_hash, "only a hash of the token is kept"

    no_number = await client.post("/api/agents", json={"name": "Bo"}, headers=AUTH)
    assert (
        no_number.status == 400
        and "phone number or a SIP URI" in (await no_number.json())["detail"]
    )
    bad_queue = await client.post(
        "/api/agents",
        json={"name": "Bo", "phone": "+14155550143", "queues": ["Sales!"]},
        headers=AUTH,
    )
    assert bad_queue.status == 400 and (await bad_queue.json())["fields"][0]["field"] == "queues"

    renamed = await client.patch(
        f"/api/agents/{ana['id']}", json={"queues": ["sales", "support"]}, headers=AUTH
    )
    assert (await renamed.json())["queues"] == ["sales", "support"]


async def test_an_agent_token_reaches_only_the_agent_routes(client: TestClient):
    ana = await new_agent(client, "Ana", ["sales"])
    bo = await new_agent(client, "Bo", ["support"])
    assert (await client.get("/api/agents/me")).status == 401, "no token"
    wrong = await client.get("/api/agents/me", headers={"Authorization": "Bearer agt_nope"})
    assert wrong.status == 401
    me = await client.get("/api/agents/me", headers=bearer(ana))
    assert me.status == 200 and (await me.json())["id"] == ana["id"]
    for path in ("/api/calls", "/api/leads", "/api/agents"):
        refused = await client.get(path, headers=bearer(ana))
        assert refused.status == 403, path
        assert (await refused.json())["error"] == "forbidden"
    other = await client.put(
        f"/api/agents/{bo['id']}/presence", json={"presence": "away"}, headers=bearer(ana)
    )
    assert other.status == 403, "an agent sets only their own presence"
    assert (await client.get(f"/api/agents/{bo['id']}", headers=bearer(ana))).status == 403

    replaced = await client.post(f"/api/agents/{ana['id']}/token", headers=AUTH)
    assert replaced.status == 200
    assert (await client.get("/api/agents/me", headers=bearer(ana))).status == 401
    fresh = await replaced.json()
    assert (await client.get("/api/agents/me", headers=bearer(fresh))).status == 200


async def test_presence_is_set_by_the_agent_counted_by_queue_and_audited(client: TestClient):
    ana = await new_agent(client, "Ana", ["sales", "support"])
    await new_agent(client, "Bo", ["sales"], presence="available")
    response = await client.put(
        f"/api/agents/{ana['id']}/presence", json={"presence": "available"}, headers=bearer(ana)
    )
    assert response.status == 200 and (await response.json())["presence"] == "available"
    bad = await client.put(
        f"/api/agents/{ana['id']}/presence", json={"presence": "asleep"}, headers=bearer(ana)
    )
    assert bad.status == 400
    queues = await (await client.get("/api/queues", headers=bearer(ana))).json()
    assert queues["data"] == [
        {"name": "sales", "agents": 2, "available": 2, "busy": 0, "away": 0, "offline": 0},
        {"name": "support", "agents": 1, "available": 1, "busy": 0, "away": 0, "offline": 0},
    ]
    async with client.db.session() as session:
        entries = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "agent.presence"))
        )
    assert [(e.actor, e.entity_id, e.details) for e in entries] == [
        (f"api:agent:{ana['id']}", ana["id"], {"from": "offline", "to": "available"})
    ]


async def test_an_agent_signs_the_console_in_with_their_token(client: TestClient):
    ana = await new_agent(client, "Ana", ["sales"])
    refused = await client.post("/api/session", json={"agentToken": "agt_wrong"})
    assert refused.status == 401
    response = await client.post("/api/session", json={"agentToken": ana["token"]})
    assert response.status == 201
    body = await response.json()
    assert body["role"] == "agent" and body["subject"] == ana["id"]
    assert body["actor"] == f"web:agent:{ana['id']}" and body["csrfToken"]
    assert (await client.get("/api/agents/me")).status == 200, "the cookie alone"
    assert (await client.get("/api/calls")).status == 403
    no_csrf = await client.put(f"/api/agents/{ana['id']}/presence", json={"presence": "away"})
    assert no_csrf.status == 403 and (await no_csrf.json())["error"] == "csrf"
    await client.post(f"/api/agents/{ana['id']}/token", headers=AUTH)
    assert (await client.get("/api/agents/me")).status == 401, "a new token ends the sessions"
    assert response.cookies[COOKIE].value


async def test_transfers_are_on_the_call_and_an_agent_writes_the_disposition(
    client: TestClient,
):
    ana = await new_agent(client, "Ana", ["sales"])
    bo = await new_agent(client, "Bo", ["sales"])
    call = await record_call(client.db, SALES_CALL)
    now = utcnow()
    async with client.db.session() as session:
        taken = Transfer(
            call_id=call.id,
            queue="sales",
            status="bridged",
            agent_id=ana["id"],
            reason="wants a person",
            summary="Asked about the 300 Mb plan.",
            attempts=[{"agentId": ana["id"], "ringSeconds": 1.2, "outcome": "answered"}],
            rang_at=now,
            bridged_at=now,
            ring_seconds=1.2,
            bridge_seconds=2.5,
        )
        session.add(taken)
        await session.flush()
        taken_id = taken.id
    detail = await (await client.get(f"/api/calls/{call.id}", headers=AUTH)).json()
    [on_call] = detail["transfers"]
    assert (on_call["queue"], on_call["agentId"], on_call["ringSeconds"]) == (
        "sales",
        ana["id"],
        1.2,
    )
    assert on_call["bridgeSeconds"] == 2.5 and on_call["attempts"][0]["outcome"] == "answered"

    mine = await (await client.get("/api/transfers", headers=bearer(ana))).json()
    assert [t["id"] for t in mine["data"]] == [taken_id]
    theirs = await (await client.get("/api/transfers", headers=bearer(bo))).json()
    assert theirs["data"] == [] and theirs["total"] == 0
    assert (await client.get(f"/api/transfers/{taken_id}", headers=bearer(bo))).status == 404
    refused = await client.post(
        f"/api/transfers/{taken_id}/disposition",
        json={"disposition": "sale"},
        headers=bearer(bo),
    )
    assert refused.status == 404

    response = await client.post(
        f"/api/transfers/{taken_id}/disposition",
        json={"disposition": "sale", "note": "Signed up for 300 Mb."},
        headers=bearer(ana),
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["disposition"] == "sale"
    async with client.db.session() as session:
        [note] = await session.scalars(select(Note).where(Note.lead_id == call.lead_id))
    assert note.body == "Agent disposition: sale. Signed up for 300 Mb."
    assert note.author == f"api:agent:{ana['id']}"


@pytest.mark.parametrize(
    ("from_number", "spoken"),
    [
        ("+14155550123", "1 4 1 5 5 5 5 0 1 2 3"),
        ("sip:alice@10.0.0.5", "SIP user alice"),
        ("alice", "SIP user alice"),
        (None, "an unknown number"),
    ],
)
def test_the_whisper_reads_a_number_digit_by_digit_and_a_sip_user_by_name(from_number, spoken):
    assert spoken_caller_id(from_number) == spoken
