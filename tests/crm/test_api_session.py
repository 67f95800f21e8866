"""Browser sign-in: the session cookie beside the bearer key, CSRF on writes, sign-out; both DBs."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from crm import api
from crm.api.auth import COOKIE
from crm.calls import CallStore
from crm.models import AuditLog, Lead, WebSession, utcnow
from tests.crm.conftest import AUTH, KEY


async def sign_in(client: TestClient) -> tuple[str, str]:
    """Sign the test client in; returns the cookie's token and the CSRF token."""
    response = await client.post("/api/session", json={"apiKey": KEY})
    assert response.status == 201, await response.text()
    return response.cookies[COOKIE].value, (await response.json())["csrfToken"]


async def count(client: TestClient, model) -> int:
    async with client.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_sign_in_takes_only_the_api_key_as_json(client: TestClient):
    wrong = await client.post("/api/session", json={"apiKey": "not-the-key"})
    assert wrong.status == 401 and (await wrong.json())["error"] == "unauthorized"
    assert COOKIE not in wrong.cookies
    form = await client.post("/api/session", data={"apiKey": KEY})  # what a cross-site form sends
    assert form.status == 415 and COOKIE not in form.cookies
    empty = await client.post("/api/session", json={})
    assert empty.status == 400 and (await empty.json())["fields"][0]["field"] == "apiKey"
    assert (await client.get("/api/calls")).status == 401
    assert await count(client, WebSession) == 0


async def test_the_session_cookie_is_http_only_strict_and_reads_the_api(client: TestClient):
    response = await client.post("/api/session", json={"apiKey": KEY})
    assert response.status == 201
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == 12 * 3600
    body = await response.json()
    assert body["role"] == "admin" and body["via"] == "session" and body["actor"] == "web:admin"
    assert (await client.get("/api/calls")).status == 200  # the cookie alone
    me = await (await client.get("/api/session")).json()
    assert me["csrfToken"] == body["csrfToken"] and me["expiresAt"]
    async with client.db.session() as session:
        stored = list(await session.scalars(select(WebSession)))
    assert len(stored) == 1 and cookie.value not in (stored[0].token_hash, stored[0].credential)
    assert KEY not in stored[0].credential


async def test_a_signed_in_browser_writes_only_with_its_csrf_token(client: TestClient):
    _, csrf = await sign_in(client)
    lead = {"phone": "+34612345678", "name": "Ana"}
    missing = await client.post("/api/leads", json=lead)
    assert missing.status == 403 and (await missing.json())["error"] == "csrf"
    forged = await client.post("/api/leads", json=lead, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status == 403
    assert await count(client, Lead) == 0
    created = await client.post("/api/leads", json=lead, headers={"X-CSRF-Token": csrf})
    assert created.status == 201
    async with client.db.session() as session:
        entries = list(await session.scalars(select(AuditLog).order_by(AuditLog.id)))
    assert [(e.actor, e.action) for e in entries] == [
        ("web:admin", "session.create"),
        ("web:admin", "lead.create"),
    ]


async def test_the_bearer_key_needs_no_csrf_token(client: TestClient):
    response = await client.post("/api/leads", json={"phone": "+34612345679"}, headers=AUTH)
    assert response.status == 201
    me = await (await client.get("/api/session", headers=AUTH)).json()
    assert me["via"] == "bearer" and me["csrfToken"] is None


async def test_signing_out_ends_the_session_on_the_server(client: TestClient):
    token, csrf = await sign_in(client)
    assert (await client.delete("/api/session")).status == 403  # no CSRF token: not signed out
    response = await client.delete("/api/session", headers={"X-CSRF-Token": csrf})
    assert response.status == 204 and response.cookies[COOKIE].value == ""
    assert await count(client, WebSession) == 0
    client.session.cookie_jar.clear()
    replayed = await client.get("/api/calls", headers={"Cookie": f"{COOKIE}={token}"})
    assert replayed.status == 401
    async with client.db.session() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["session.create", "session.delete"]


async def test_a_session_ends_when_it_expires_or_the_api_key_changes(client: TestClient):
    token, _ = await sign_in(client)
    cookie = {"Cookie": f"{COOKIE}={token}"}
    client.session.cookie_jar.clear()
    # The server restarted with another API key: the old key's sessions are gone.
    app = web.Application(middlewares=[api.require_api_key])
    app[api.STORE], app[api.API_KEY], app[api.CRM] = CallStore(client.db), "new-key", client.crm
    app.add_routes(api.routes)
    async with TestClient(TestServer(app)) as rotated:
        assert (await rotated.get("/api/calls", headers=cookie)).status == 401
    assert (await client.get("/api/calls", headers=cookie)).status == 200
    async with client.db.session() as session:
        await session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await client.get("/api/calls", headers=cookie)).status == 401
    await sign_in(client)  # a new sign-in sweeps the expired session away
    assert await count(client, WebSession) == 1


async def test_openapi_documents_the_session_and_the_pipeline(client: TestClient):
    document = await (await client.get("/api/openapi.json")).json()
    assert document["paths"]["/api/session"]["post"]["security"] == []
    assert {"bearer": []} in document["paths"]["/api/calls"]["get"]["security"]
    assert {"session": []} in document["paths"]["/api/calls"]["get"]["security"]
    assert document["components"]["securitySchemes"]["session"]["name"] == COOKIE
    assert {"delete", "get", "post"} == set(document["paths"]["/api/session"])
    assert "/api/pipeline" in document["paths"]
    assert "band" in {p["name"] for p in document["paths"]["/api/calls"]["get"]["parameters"]}


async def test_pipeline_lists_stages_in_order_with_their_leads_and_the_bands(client: TestClient):
    for phone, stage in (
        ("+34612000001", "qualified"),
        ("+34612000002", "qualified"),
        ("+34612000003", None),
    ):
        body = {"phone": phone} | ({"stage": stage} if stage else {})
        assert (await client.post("/api/leads", json=body, headers=AUTH)).status == 201
    async with client.db.session() as session:
        await session.execute(
            update(Lead).where(Lead.phone == "+34612000003").values(stage="legacy")
        )
    body = await (await client.get("/api/pipeline", headers=AUTH)).json()
    stages = [(s["name"], s["closed"], s["leads"]) for s in body["stages"]]
    assert stages == [
        ("new", False, 0),
        ("contacted", False, 0),
        ("qualified", False, 2),
        ("appointment", False, 0),
        ("follow_up", False, 0),
        ("won", True, 0),
        ("lost", True, 0),
        ("legacy", False, 1),  # a stage an older stages file had
    ]
    assert [(b["name"], b["min"], b["max"]) for b in body["bands"]][0] == ("cold", 0, 20)
    assert (await client.get("/api/pipeline")).status == 401
