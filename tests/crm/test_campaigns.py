"""Campaign definitions (files and API), states, CSV enrollment and progress, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from crm.db import Database
from crm.models import Campaign, Lead
from crm.outbound.campaign_spec import CampaignFileError, load_campaign_files
from crm.outbound.campaigns import sync_campaign_files
from tests.crm.conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]
SPEC = {
    "name": "Reactivation Q1",
    "type": "reactivation",
    "assistant": "default",
    "timezone": "America/New_York",
    "audience": {"stages": ["contacted"], "minScore": 20, "inactiveDays": 30},
    "window": {"start": "10:00", "end": "19:00", "days": [1, 2, 3, 4, 5, 6]},
    "limits": {
        "maxAttempts": 2,
        "retryMinutes": {"no-answer": 90},
        "maxCallsPerDay": 200,
        "maxConcurrent": 5,
    },
}


def test_example_campaign_files_load():
    specs = load_campaign_files(ROOT / "campaigns" / "examples")
    assert {s.type for s in specs} >= {"follow_up", "cold_calling"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "invalid JSON"),
        ({"name": "x", "window": {"start": "19:00", "end": "09:00"}}, "window start"),
        ({"name": "x", "limits": {"retryMinutes": {"hung-up": 5}}}, r"\$\.limits\.retryMinutes"),
        ({"name": "x", "timezone": "Mars/Base"}, "unknown time zone"),
        ({"name": "x", "maxAttemps": 3}, r"\$\.maxAttemps: Extra inputs"),
    ],
)
def test_broken_campaign_files_name_file_field_and_reason(tmp_path: Path, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(CampaignFileError, match=expected) as error:
        load_campaign_files(tmp_path)
    assert str(path) in str(error.value)


async def test_files_create_campaigns_and_keep_their_state(database: Database, tmp_path: Path):
    (tmp_path / "a.json").write_text(json.dumps({**SPEC, "status": "active"}))
    await sync_campaign_files(database, load_campaign_files(tmp_path))
    async with database.session() as session:
        campaign = await session.scalar(select(Campaign))
        campaign.status = "paused"
    (tmp_path / "a.json").write_text(
        json.dumps({**SPEC, "description": "edited", "status": "active"})
    )
    await sync_campaign_files(database, load_campaign_files(tmp_path))
    async with database.session() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign.status == "paused" and campaign.description == "edited"


async def test_create_validate_and_move_through_states(client: TestClient):
    response = await client.post(
        "/api/campaigns", json={**SPEC, "limits": {"maxAttempts": 0}}, headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["fields"][0]["field"] == "limits.maxAttempts"
    response = await client.post("/api/campaigns", json=SPEC, headers=AUTH)
    assert response.status == 201
    campaign = await response.json()
    assert campaign["status"] == "draft" and campaign["window"]["start"] == "10:00:00"
    assert (await client.post("/api/campaigns", json=SPEC, headers=AUTH)).status == 409
    cid = campaign["id"]
    assert (await client.post(f"/api/campaigns/{cid}/resume", headers=AUTH)).status == 409
    for action, state in [
        ("start", "active"),
        ("pause", "paused"),
        ("resume", "active"),
        ("stop", "completed"),
        ("archive", "archived"),
    ]:
        response = await client.post(f"/api/campaigns/{cid}/{action}", headers=AUTH)
        assert response.status == 200 and (await response.json())["status"] == state, action
    assert (await client.get("/api/campaigns/nope", headers=AUTH)).status == 404


async def test_csv_enrollment_is_all_or_nothing(client: TestClient):
    cid = (await (await client.post("/api/campaigns", json=SPEC, headers=AUTH)).json())["id"]
    broken = (
        "phone,name,timezone\n"
        "+1 212 555 0141,Ann,America/New_York\n"
        "not-a-number,Bob,\n"
        "+12125550143,Cy,Mars/Base\n"
    )
    response = await client.post(
        f"/api/campaigns/{cid}/contacts?region=US",
        data=broken,
        headers={**AUTH, "Content-Type": "text/csv"},
    )
    assert response.status == 400
    assert [row["line"] for row in (await response.json())["errors"]] == [3, 4]
    async with client.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0, (
            "nothing half-imported"
        )
    good = (
        "phone,name,timezone\n"
        "+1 212 555 0141,Ann,America/New_York\n"
        "(212) 555-0141,Ann B.,\n"
        "+34911234567,Eva,\n"
    )
    response = await client.post(
        f"/api/campaigns/{cid}/contacts?region=US",
        data=good,
        headers={**AUTH, "Content-Type": "text/csv"},
    )
    answer = await response.json()
    assert response.status == 200 and answer["enrolled"] == 2 and answer["alreadyEnrolled"] == 0, (
        answer
    )
    assert answer["import"]["created"] == 2 and answer["import"]["mergedDuplicates"] == 1
    contacts = (await (await client.get(f"/api/campaigns/{cid}/contacts", headers=AUTH)).json())[
        "data"
    ]
    assert {c["phone"]: c["zones"] for c in contacts} == {
        "+12125550141": ["America/New_York"],
        "+34911234567": ["Europe/Madrid"],
    }
    progress = await (await client.get(f"/api/campaigns/{cid}/progress", headers=AUTH)).json()
    assert (
        progress["contacts"]["pending"] == 2
        and progress["callsMade"] == 0
        and progress["conversionRate"] == 0.0
    )
