"""The admin API: bearer key, JSON errors, calls (filters, search, analysis), OpenAPI; both DBs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from crm.calls import CallStore, NewCall
from crm.models import AuditLog, Call
from tests.crm.conftest import AUTH, SALES_CALL, T0, record_call

SPANISH = [
    ("assistant", "Hola, ¿en qué le puedo ayudar?"),
    ("user", "Quería saber el precio del plan de fibra óptica"),
]
REFUSAL = [
    ("assistant", "Hello, this is Fibra Max."),
    ("user", "No thanks, I already have a provider."),
]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "secret-key"}]
)
async def test_api_needs_the_bearer_key(client: TestClient, headers: dict):
    for method, path in (
        ("GET", "/api/calls"),
        ("GET", "/api/leads"),
        ("GET", "/api/analytics/summary"),
        ("GET", "/api/leads.csv"),
        ("POST", "/api/leads"),
        ("POST", "/api/leads/import"),
        ("POST", "/api/leads/x/erase"),
        ("PATCH", "/api/tasks/x"),
    ):
        response = await client.request(method, path, headers=headers, json={})
        assert response.status == 401, path
        assert (await response.json())["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    async with client.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == 0


async def test_openapi_document_lists_every_route(client: TestClient):
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert {
        "/api/calls",
        "/api/calls/{call_id}",
        "/api/leads",
        "/api/leads/import",
        "/api/leads.csv",
        "/api/leads/{lead_id}/erase",
        "/api/analytics/summary",
        "/api/tasks",
        "/api/appointments",
    } <= set(document["paths"])
    calls = document["paths"]["/api/calls"]["get"]
    assert {
        "from",
        "to",
        "outcome",
        "assistant",
        "campaign",
        "minScore",
        "q",
        "limit",
        "offset",
    } <= {p["name"] for p in calls["parameters"]}
    create = document["paths"]["/api/leads"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert document["components"]["schemas"][create["$ref"].rsplit("/", 1)[1]]["required"] == [
        "phone"
    ]


async def test_unknown_ids_and_bad_parameters(client: TestClient):
    assert (await client.get("/api/calls/nope", headers=AUTH)).status == 404
    response = await client.get(
        "/api/calls?limit=ten&minScore=500&outcome=happy&from=yesterday", headers=AUTH
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "invalid_request" and "limit" in body["detail"]
    assert {f["field"] for f in body["fields"]} == {"limit", "minScore", "outcome", "from"}
    assert "outcomes are: interested" in next(
        f["message"] for f in body["fields"] if f["field"] == "outcome"
    )
    response = await client.get("/api/calls?colour=red", headers=AUTH)
    assert response.status == 400 and (await response.json())["fields"][0]["field"] == "colour"


async def test_call_detail_shows_transcript_analysis_score_and_rule_runs(client: TestClient):
    call = await record_call(client.db, SALES_CALL, sid="CA-detail")
    await client.crm.queue.process_due()
    response = await client.get(f"/api/calls/{call.id}", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["analysisStatus"] == "fallback" and body["outcome"] == "interested"
    assert [line["seq"] for line in body["transcript"]] == [1, 2, 3, 4, 5, 6]
    assert all(line["sentiment"] is not None for line in body["transcript"])
    analysis = body["analysis"]
    assert analysis["source"] == "fallback" and analysis["note"] == "no LLM configured"
    assert analysis["sentiment"]["label"] == "positive" and analysis["intent"] == "information"
    assert (
        analysis["bant"]["budget"] == "My budget is 50 dollars"
        and analysis["signals"]["priceQuestions"] == 1
    )
    score = analysis["score"]
    assert score["value"] == body["leadScore"] and score["band"] in (
        "interested",
        "hot",
        "very_hot",
    )
    assert set(score["explanation"]["components"]) == {
        "interaction",
        "price_questions",
        "information_requests",
        "talk_time",
        "positive_answers",
    }
    runs = {run["ruleId"]: run for run in body["automationRuns"]}
    assert (
        runs["interested-follow-up"]["status"] == "ok" and runs["hot-lead"]["status"] == "skipped"
    )
    assert runs["interested-follow-up"]["result"]["actions"][0]["action"] == "adjust_score"


async def make_calls(client: TestClient) -> dict[str, str]:
    ids = {
        "sales": (await record_call(client.db, SALES_CALL, sid="CA-1")).id,
        "spanish": (
            await record_call(
                client.db, SPANISH, sid="CA-2", phone="+34612345678", assistant="ventas"
            )
        ).id,
        "refusal": (await record_call(client.db, REFUSAL, sid="CA-3", phone="+14155550133")).id,
    }
    await client.crm.queue.process_due()
    async with client.db.session() as session:
        (await session.get(Call, ids["spanish"])).campaign_id = "spring"
        (await session.get(Call, ids["refusal"])).created_at = T0 - timedelta(days=10)
    return ids


async def listed(client: TestClient, query: str) -> list[str]:
    response = await client.get(f"/api/calls?{query}", headers=AUTH)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["total"] == len(body["data"])
    return [call["id"] for call in body["data"]]


async def test_call_filters(client: TestClient):
    ids = await make_calls(client)
    assert len(await listed(client, "")) == 3
    assert await listed(client, "outcome=not_interested") == [ids["refusal"]]
    assert set(await listed(client, "outcome=interested,not_interested")) == set(ids.values())
    assert await listed(client, "assistant=ventas") == [ids["spanish"]]
    assert await listed(client, "campaign=spring") == [ids["spanish"]]
    from_ = (T0 - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids["refusal"] not in await listed(client, f"from={from_}")
    assert await listed(client, f"to={from_}") == [ids["refusal"]]
    assert await listed(client, "minScore=30&sentiment=positive") == [ids["sales"]]


async def test_calls_filter_by_score_band(client: TestClient):
    ids = await make_calls(client)
    scores = {"sales": 85, "spanish": 30, "refusal": 5}  # very_hot, warm, cold (default bands)
    async with client.db.session() as session:
        for name, score in scores.items():
            (await session.get(Call, ids[name])).lead_score = score
    assert await listed(client, "band=very_hot") == [ids["sales"]]
    assert await listed(client, "band=warm") == [ids["spanish"]]
    assert await listed(client, "band=cold") == [ids["refusal"]]
    assert await listed(client, "band=hot") == []
    assert await listed(client, "band=very_hot&minScore=90") == []
    response = await client.get("/api/calls?band=lukewarm", headers=AUTH)
    body = await response.json()
    assert response.status == 400 and body["fields"][0]["field"] == "band"
    assert "bands are: cold, warm" in body["detail"]


SEARCHES = [
    ("fiber", {"sales"}),
    ("FIBER plan", {"sales"}),
    ("fibra óptica", {"spanish"}),
    ("preci", {"spanish"}),
    ("provider", {"refusal"}),
    ("coverage Olivos", {"sales"}),
    ("nothing-like-this", set()),
    ("'\"*:&|", {"sales", "spanish", "refusal"}),  # punctuation alone searches nothing
]


async def test_full_text_search_of_transcripts(client: TestClient):
    ids = await make_calls(client)
    for words, expected in SEARCHES:
        found = set(await listed(client, f"q={quote(words)}&limit=10"))
        assert {name for name, call_id in ids.items() if call_id in found} == expected, words
    assert await listed(client, "q=fiber&outcome=not_interested") == []


async def test_list_pages_newest_first(client: TestClient):
    store = CallStore(client.db)
    for i in range(5):
        await store.open(NewCall(provider="twilio", provider_call_id=f"CA-page-{i}"))
    response = await client.get("/api/calls?limit=2&offset=0", headers=AUTH)
    body = await response.json()
    assert body["total"] == 5 and [c["providerCallId"] for c in body["data"]] == [
        "CA-page-4",
        "CA-page-3",
    ]
    body = await (await client.get("/api/calls?limit=2&offset=4", headers=AUTH)).json()
    assert [c["providerCallId"] for c in body["data"]] == ["CA-page-0"]


async def test_analytics_summary(client: TestClient):
    ids = await make_calls(client)
    missed = await record_call(
        client.db, [], sid="CA-4", answered=False, status="no-answer", phone="+14155550144"
    )
    await client.crm.queue.process_due()
    async with client.db.session() as session:
        for call_id, hour in ((ids["sales"], 9), (ids["spanish"], 9), (missed.id, 17)):
            row = await session.get(Call, call_id)
            row.created_at = T0.replace(hour=hour)  # UTC; 10:00 and 18:00 in Madrid
        (await session.get(Call, ids["spanish"])).outcome = "converted"
    start, end = (
        quote((T0 - timedelta(days=30)).isoformat()),
        quote((T0 + timedelta(days=1)).isoformat()),
    )
    response = await client.get(
        f"/api/analytics/summary?from={start}&to={end}&tz=Europe/Madrid", headers=AUTH
    )
    assert response.status == 200
    body = await response.json()
    assert body["calls"]["inRange"] == 4 and set(body["calls"]) == {
        "today",
        "week",
        "month",
        "inRange",
    }
    assert body["answered"] == 3 and body["answerRate"] == 0.75
    assert body["averageDurationSeconds"] == pytest.approx((30 + 10 + 10) / 3, abs=0.1)
    assert body["conversions"] == 1 and body["conversionRate"] == round(1 / 3, 4)
    assert body["outcomes"] == {
        "interested": 1,
        "not_interested": 1,
        "callback": 0,
        "converted": 1,
        "no_answer": 1,
        "voicemail": 0,
        "wrong_number": 0,
        "transferred": 0,
    }
    hours = {h["hour"]: h["calls"] for h in body["callsByHour"] if h["calls"]}
    assert hours[10] == 2 and hours[18] == 1 and sum(hours.values()) == 4
    bands = {b["band"]: b["leads"] for b in body["scoreDistribution"]["bands"]}
    assert (
        sum(bands.values()) == 4
        and sum(h["leads"] for h in body["scoreDistribution"]["histogram"]) == 4
    )
    assert -1 <= body["averageSentiment"] <= 1
    async with client.db.session() as session:
        scores = list(await session.scalars(select(Call.lead_score)))
    known = [s for s in scores if s is not None]
    assert known and body["averageScore"] == round(sum(known) / len(known), 1)
    bad = await client.get("/api/analytics/summary?tz=Mars/Base", headers=AUTH)
    assert bad.status == 400 and (await bad.json())["fields"][0]["field"] == "tz"
