"""Call recordings in the CRM: served with auth and Range, purged by retention, erased by GDPR."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from crm import api
from crm.api.recordings import Unsatisfiable, byte_range
from crm.calls import CallStore
from crm.db import Database
from crm.models import Call, utcnow
from crm.recordings import LocalRecordings
from crm.retention import purge_old
from crm.service import CrmService, CrmSettings
from crm.webhooks import payloads
from crm.webhooks.outbox import WebhookSettings
from tests.crm.conftest import AUTH, KEY, SALES_CALL, T0, record_call

AUDIO = bytes(range(256)) * 40  # 10,240 bytes standing in for Ogg Opus


@pytest.fixture
async def client(database: Database, tmp_path: Path):
    """The admin API with recordings kept in a temporary folder."""
    crm = CrmService(
        database,
        CrmSettings(webhooks=WebhookSettings(secret="s"), recordings_dir=tmp_path / "recordings"),
    )
    app = web.Application(middlewares=[api.require_api_key])
    app[api.STORE] = CallStore(database)
    app[api.API_KEY] = KEY
    app[api.CRM] = crm
    app.add_routes(api.routes)
    async with TestClient(TestServer(app)) as http:
        http.crm, http.db = crm, database
        yield http


async def recorded(client: TestClient, sid: str, phone: str) -> tuple[Call, Path]:
    """A finished call with a recording file, stored the way the call core stores it."""
    call = await record_call(client.db, SALES_CALL, sid=sid, phone=phone)
    storage: LocalRecordings = client.crm.recordings
    key = storage.new_key(call.id, T0, ".ogg")
    path = storage.writable_path(key)
    path.write_bytes(AUDIO)
    store = CallStore(client.db)
    url = f"https://agent.example.com/api/calls/{call.id}/recording"
    await store.recording_started(call.id, key=key, started_at=T0, url=url)
    await store.recording_finished(call.id, seconds=30.0, size=await storage.finished(key))
    return await store.get(call.id), path


def test_range_headers_as_media_elements_send_them():
    assert byte_range(None, 100) is None and byte_range("bytes=0-", 100) == (0, 100)
    assert byte_range("bytes=10-19", 100) == (10, 20) and byte_range("bytes=90-500", 100) == (
        90,
        100,
    )
    assert byte_range("bytes=-5", 100) == (95, 100) and byte_range("bytes=-500", 100) == (0, 100)
    assert byte_range("bytes=0-1,5-6", 100) is None, "several ranges: the whole file"
    assert byte_range("items=0-1", 100) is None
    for unsatisfiable in ("bytes=100-", "bytes=-0", "bytes=20-10"):
        with pytest.raises(Unsatisfiable):
            byte_range(unsatisfiable, 100)


async def test_a_recording_is_served_with_auth_and_range_or_a_reason_why_not(client: TestClient):
    call, _ = await recorded(client, "CA-rec", "+14155550170")
    path = f"/api/calls/{call.id}/recording"
    assert (await client.get(path)).status == 401, "no key, no recording"
    whole = await client.get(path, headers=AUTH)
    assert whole.status == 200 and await whole.read() == AUDIO
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.content_type == "audio/ogg"
    part = await client.get(path, headers=AUTH | {"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == AUDIO[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    tail = await client.get(path, headers=AUTH | {"Range": "bytes=-16"})
    assert tail.status == 206 and await tail.read() == AUDIO[-16:]
    past = await client.get(path, headers=AUTH | {"Range": f"bytes={len(AUDIO)}-"})
    assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{len(AUDIO)}"

    body = await (await client.get(f"/api/calls/{call.id}", headers=AUTH)).json()
    assert body["recording"] == {
        "url": f"https://agent.example.com/api/calls/{call.id}/recording",
        "path": path,
        "contentType": "audio/ogg",
        "channels": ["caller", "assistant"],
        "startedAt": T0.isoformat(),
        "durationSeconds": 30.0,
        "bytes": len(AUDIO),
    }
    # The end-of-call webhook carries its URL.
    report = payloads.end_of_call_report(call, None, [], [])["message"]
    url = f"https://agent.example.com/api/calls/{call.id}/recording"
    assert report["recordingUrl"] == report["artifact"]["recordingUrl"] == url
    assert report["artifact"]["recording"] == {"stereoUrl": url}

    # Calls without a recording here say why.
    plain = await record_call(client.db, SALES_CALL, sid="CA-none", phone="+14155550171")
    answer = await client.get(f"/api/calls/{plain.id}/recording", headers=AUTH)
    assert answer.status == 404 and (await answer.json())["error"] == "no_recording"
    vapi = await record_call(client.db, SALES_CALL, sid="CA-vapi", phone="+14155550172")
    async with client.db.session() as session:
        (await session.get(Call, vapi.id)).recording_url = "https://storage.vapi.ai/x.wav"
    answer = await client.get(f"/api/calls/{vapi.id}/recording", headers=AUTH)
    assert answer.status == 404 and "storage.vapi.ai" in (await answer.json())["detail"]
    call, path = await recorded(client, "CA-lost", "+14155550173")
    path.unlink()
    answer = await client.get(f"/api/calls/{call.id}/recording", headers=AUTH)
    assert answer.status == 404 and "no longer stored" in (await answer.json())["detail"]
    assert (await client.get("/api/calls/nope/recording", headers=AUTH)).status == 404


async def test_retention_deletes_old_recordings_and_gdpr_erase_a_leads(client: TestClient):
    old, old_file = await recorded(client, "CA-old", "+14155550174")
    new, new_file = await recorded(client, "CA-new", "+14155550175")
    async with client.db.session() as session:
        (await session.get(Call, old.id)).ended_at = utcnow() - timedelta(days=40)
        (await session.get(Call, new.id)).ended_at = utcnow()
    counts = await purge_old(client.db, 30, recordings=client.crm.recordings)
    assert counts["recordings"] == 1 and not old_file.exists() and new_file.exists()
    async with client.db.session() as session:
        row = await session.get(Call, old.id)
        assert (row.recording_key, row.recording_url, row.recording_seconds) == (None, None, None)

    response = await client.post(f"/api/leads/{new.lead_id}/erase", headers=AUTH)
    erased = await response.json()
    assert response.status == 200 and erased["recordings"] == 1 and not new_file.exists()
    async with client.db.session() as session:
        keys = list(await session.scalars(select(Call.recording_key)))
    assert keys == [None, None]
