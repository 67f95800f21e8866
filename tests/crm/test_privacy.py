"""GDPR erase leaves nothing of the person: no queued webhook, no index entry, no WAL page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy import select
from sqlalchemy import text as sa_text
from sqlalchemy.engine import make_url

from crm import api
from crm.calls import CallStore
from crm.db import Database, alembic_config
from crm.models import WebhookDelivery
from crm.service import CrmService, CrmSettings
from crm.webhooks.outbox import WebhookSettings
from tests.crm.conftest import AUTH, ROOT, record_call

# Words only this person's records hold.
NAME, EMAIL, COMPANY = "Quokkabeard Zyxwvut", "quokka.zyxw@erased.example", "Xylophonic Ventures"
SAID = "My neighbour Flibbertigibbetzz recommended you"
WORDS = [NAME, "Quokkabeard", EMAIL, COMPANY, "Flibbertigibbetzz", "flibbertigibbetzz"]


@pytest.fixture
async def client(database: Database):
    """The admin API with webhooks configured (deliveries queue; nothing sends them here)."""
    crm = CrmService(
        database,
        CrmSettings(
            rules_dir=ROOT / "rules",
            webhooks=WebhookSettings(urls=("http://127.0.0.1:9/hook",), secret="s"),
        ),
    )
    app = web.Application(middlewares=[api.require_api_key])
    app[api.STORE], app[api.API_KEY], app[api.CRM] = CallStore(database), "secret-key", crm
    app.add_routes(api.routes)
    async with TestClient(TestServer(app)) as http:
        http.crm, http.db = crm, database
        yield http


async def payloads(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(select(WebhookDelivery))
        return [str(row.payload) for row in rows]


def sqlite_bytes(db: Database) -> bytes:
    path = Path(make_url(db.url).database)
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()
    )


async def test_erase_removes_every_delivery_about_the_lead_and_every_trace_on_disk(client):
    phone = "+14155550161"
    call = await record_call(
        client.db, [("assistant", "Hello, how can I help?"), ("user", SAID)], phone=phone
    )
    lead_id = call.lead_id
    response = await client.patch(
        f"/api/leads/{lead_id}",
        json={"name": NAME, "email": EMAIL, "company": COMPANY},
        headers=AUTH,
    )
    assert response.status == 200
    await client.crm.queue.process_due()  # the call's report and analysis webhooks
    for stage in ("qualified", "follow_up"):  # manual moves: deliveries without a call id
        response = await client.post(
            f"/api/leads/{lead_id}/stage", json={"stage": stage}, headers=AUTH
        )
        assert response.status == 200
    queued = await payloads(client.db)
    assert any(NAME in p and EMAIL in p for p in queued), queued
    async with client.db.session() as session:
        no_call = await session.scalars(
            select(WebhookDelivery.event).where(WebhookDelivery.call_id.is_(None))
        )
        assert "lead.stage_changed" in set(no_call)
    if client.db.is_sqlite:
        assert b"Flibbertigibbetzz" in sqlite_bytes(client.db)

    response = await client.post(f"/api/leads/{lead_id}/erase", headers=AUTH)
    assert response.status == 200, await response.text()

    left = [p for p in await payloads(client.db) if any(w in p for w in WORDS) or phone in p]
    assert left == [], "no delivery about the lead is left to send"
    if client.db.is_sqlite:
        raw = sqlite_bytes(client.db)
        for word in WORDS:
            assert word.encode() not in raw, f"{word!r} is still in the SQLite files"


async def test_the_migration_names_the_lead_of_deliveries_queued_before_it(database: Database):
    def down_insert_up(connection) -> None:
        command.downgrade(alembic_config(connection), "0008_call_language")
        payload = {"message": {"type": "lead.stage_changed", "lead": {"id": "lead-before-0012"}}}
        connection.execute(
            sa_text(
                "INSERT INTO webhook_deliveries (event, event_key, url, payload, status, attempts,"
                " created_at) VALUES ('lead.stage_changed', 'k1', 'http://x', :p, 'pending', 0,"
                " CURRENT_TIMESTAMP)"
            ),
            {"p": json.dumps(payload)},
        )
        command.upgrade(alembic_config(connection), "head")

    async with database.engine.begin() as connection:
        await connection.run_sync(down_insert_up)
    async with database.session() as session:
        assert await session.scalar(select(WebhookDelivery.lead_id)) == "lead-before-0012"
