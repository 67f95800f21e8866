"""POST /vapi/events: VAPI's server messages against our assistants, tools and a real database.

Payloads are in tests/telephony/vapi_payloads.py, each shaped as VAPI documents it:
https://docs.vapi.ai/server-url/events for the envelope and every message type (and the
``results`` / assistant-request / transfer replies), VAPI's OpenAPI ServerMessage* and
Call schemas for field names. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from agent import api as agent_api
from agent import vapi_ids as ids
from agent.library import AssistantLibrary
from crm import api
from crm.calls import CallStore
from crm.leads import LeadStore
from crm.models import Appointment, Call, Lead, ToolCall, Utterance
from crm.service import CrmService, CrmSettings
from crm.webhooks.outbox import WebhookSettings
from telephony.dependencies import CallDependencies
from telephony.vapi import routes as vapi_routes
from telephony.vapi.service import VapiService
from telephony.vapi.translate import VapiTarget
from tests.telephony import vapi_payloads as p

ROOT = Path(__file__).resolve().parents[2]
SECRET = "vapi-test-secret"
KEY = "admin-key"
APPOINTMENTS = "+15555550101"  # routes to appointment-setter-en


@pytest.fixture
async def vapi(database, tmp_path):
    """/vapi/events and the admin API on a real HTTP server, the shipped assistants and rules."""
    folder = tmp_path / "assistants"
    shutil.copytree(ROOT / "assistants", folder)
    library = AssistantLibrary(folder)
    await library.load()
    crm = CrmService(
        database,
        CrmSettings(rules_dir=ROOT / "rules", webhooks=WebhookSettings(secret="s")),
        plans=library.analysis_plan,
    )
    service = VapiService(
        CallDependencies(database, library, after_call=[crm.after_call]),
        VapiTarget(events_url="https://agent.example/vapi/events", secret=SECRET),
    )
    app = web.Application(middlewares=[api.require_api_key])
    app[vapi_routes.VAPI] = service
    app[api.STORE], app[api.API_KEY], app[api.CRM] = CallStore(database), KEY, crm
    app[agent_api.ASSISTANTS] = library
    app.add_routes(vapi_routes.routes)
    app.add_routes(api.routes)
    app.add_routes(agent_api.routes)
    async with TestClient(TestServer(app)) as http:
        http.service, http.crm, http.db, http.folder = service, crm, database, folder
        yield http
    await crm.stop()


async def post(http, body, *, headers=None, raw: str | None = None):
    headers = {"X-Vapi-Secret": SECRET} if headers is None else headers
    data = raw if raw is not None else json.dumps(body)
    response = await http.post(
        "/vapi/events", data=data, headers={**headers, "Content-Type": "application/json"}
    )
    return response.status, await response.json()


async def count(db, model) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def only_call(db) -> Call:
    async with db.session() as session:
        calls = list(await session.scalars(select(Call)))
    assert len(calls) == 1, calls
    return calls[0]


# The secret


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Vapi-Secret": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET}"},
    ],
)
async def test_without_the_secret_nothing_is_read_or_stored(vapi, headers):
    status, body = await post(vapi, p.end_of_call_report(), headers=headers)
    assert status == 401 and "secret" in body["error"]
    assert await count(vapi.db, Call) == 0


async def test_the_secret_as_a_bearer_credential_is_accepted(vapi):
    status, _ = await post(vapi, p.hang(), headers={"Authorization": f"Bearer {SECRET}"})
    assert status == 200


# Malformed bodies


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"message": "x"}',
        '{"message": {"call": {}}}',
        '{"message": {"type": "tool-calls", "call": {"id": "c1"}}}',
        '{"message": {"type": "tool-calls", "call": {"id": "c1"}, "toolCallList": [{"id": "t"}]}}',
        '{"message": {"type": "end-of-call-report", "call": "c1"}}',
        '{"message": {"type": "end-of-call-report"}}',
    ],
)
async def test_a_malformed_body_is_400_with_nothing_stored(vapi, raw):
    status, body = await post(vapi, None, raw=raw)
    assert status == 400 and body["error"]
    assert await count(vapi.db, Call) == 0
    assert await count(vapi.db, ToolCall) == 0


# assistant-request


async def test_assistant_request_answers_the_numbers_assistant_inline_with_crm_variables(vapi):
    await LeadStore(vapi.db).get_or_create(p.CUSTOMER, source="csv")
    async with vapi.db.session() as session:
        lead = await session.scalar(select(Lead).where(Lead.phone == p.CUSTOMER))
        lead.name, lead.stage = "Maria Lopez", "qualified"
    body = p.assistant_request()
    body["message"]["phoneNumber"]["number"] = APPOINTMENTS
    status, answer = await post(vapi, body)
    assert status == 200
    assistant = answer["assistant"]
    assert assistant["name"] == "appointment-setter-en"
    assert assistant["server"] == {"url": "https://agent.example/vapi/events", "secret": SECRET}
    assert assistant["model"]["provider"] == "openai" and assistant["voice"]["provider"] == "vapi"
    variables = answer["assistantOverrides"]["variableValues"]
    assert variables["name"] == "Maria Lopez" and variables["first_name"] == "Maria"
    assert variables["lead"]["stage"] == "qualified" and variables["now"]
    call = await only_call(vapi.db)
    assert (call.provider, call.provider_call_id, call.assistant) == (
        "vapi",
        p.CALL_ID,
        "appointment-setter-en",
    )
    assert (call.direction, call.from_number, call.to_number) == (
        "inbound",
        p.CUSTOMER,
        APPOINTMENTS,
    )


async def test_assistant_request_answers_the_pushed_assistant_id(vapi):
    loaded = vapi.service.deps.assistants.book.assistants["default"]
    ids.store(loaded.path, "asst-pushed-1", loaded.sha256)  # as `phoneagent-vapi push` leaves it
    status, answer = await post(vapi, p.assistant_request())
    assert status == 200
    assert answer["assistantId"] == "asst-pushed-1" and "assistant" not in answer
    assert answer["assistantOverrides"]["variableValues"]["customer"]["number"] == p.CUSTOMER
    assert (await vapi_state(vapi))["current"] is True
    path = vapi.folder / "default.json"
    edited = {**json.loads(path.read_text()), "endCallMessage": "Bye now."}
    path.write_text(json.dumps(edited))
    await vapi.service.deps.assistants.reload()
    status, answer = await post(vapi, p.assistant_request("second-call"))
    assert status == 200 and "assistantId" not in answer  # VAPI's copy is out of date: sent inline
    assert answer["assistant"]["endCallMessage"] == edited["endCallMessage"]
    state = await vapi_state(vapi)
    assert (
        state["assistantId"] == "asst-pushed-1" and state["current"] is False and state["pushedAt"]
    )


async def vapi_state(http) -> dict:
    response = await http.get("/api/assistants", headers={"Authorization": f"Bearer {KEY}"})
    listed = {a["name"]: a for a in (await response.json())["data"]}
    assert listed["appointment-setter-en"]["vapi"] is None
    return listed["default"]["vapi"]


# tool-calls


async def test_tool_calls_run_our_registry_and_are_recorded_with_the_call(vapi):
    args = {"name": "Maria Lopez", "email": "maria@example.com", "budget": "300k"}
    status, answer = await post(vapi, p.tool_calls("update_lead", args))
    assert status == 200
    [result] = answer["results"]
    assert result["toolCallId"] == "call_abc123" and "error" not in result
    assert isinstance(result["result"], str)
    call = await only_call(vapi.db)
    async with vapi.db.session() as session:
        lead = await session.get(Lead, call.lead_id)
        tool = await session.scalar(select(ToolCall))
    assert (lead.name, lead.email, lead.budget) == ("Maria Lopez", "maria@example.com", "300k")
    assert (tool.name, tool.tool_call_id, tool.ok, tool.call_id) == (
        "update_lead",
        "call_abc123",
        True,
        call.id,
    )
    assert tool.arguments == args and tool.duration_ms is not None


async def test_book_appointment_through_vapi_refuses_a_double_booking(vapi):
    args = {"start": "2030-03-05T10:00", "duration_minutes": 30, "title": "Check-up"}

    def booking(tool_id, call_id):
        body = p.tool_calls("book_appointment", args, tool_id, call_id=call_id)
        body["message"]["phoneNumber"]["number"] = APPOINTMENTS
        return body

    status, first = await post(vapi, booking("t1", p.CALL_ID))
    assert status == 200 and "error" not in first["results"][0], first
    assert (
        json.loads(first["results"][0]["result"])["timezone"] == "America/Los_Angeles"
    )  # +1 415, as a local call
    status, second = await post(vapi, booking("t2", "other-call"))
    assert status == 200
    assert (
        "error" in second["results"][0] or "taken" in second["results"][0].get("result", "").lower()
    )
    assert await count(vapi.db, Appointment) == 1


async def test_a_failing_tool_answers_an_error_result_not_a_500(vapi):
    status, answer = await post(vapi, p.tool_calls("no_such_tool", {"x": 1}))
    assert status == 200
    [result] = answer["results"]
    assert result["toolCallId"] == "call_abc123" and "no tool named" in result["error"]
    status, answer = await post(vapi, p.tool_calls("set_stage", {"stage": "not-a-stage"}, "t2"))
    assert status == 200 and answer["results"][0]["error"]
    async with vapi.db.session() as session:
        oks = list(await session.scalars(select(ToolCall.ok)))
    assert oks == [False, False]


async def test_tool_calls_in_the_flat_shape_and_the_legacy_function_call(vapi):
    status, answer = await post(vapi, p.tool_calls_flat("update_lead", {"company": "Acme"}))
    assert (
        status == 200
        and answer["results"][0]["toolCallId"] == "abc123"
        and "result" in answer["results"][0]
    )
    status, answer = await post(vapi, p.function_call("lookup_lead", {}))
    assert status == 200 and isinstance(answer["result"], str)
    assert await count(vapi.db, ToolCall) == 2


async def test_opt_out_marks_do_not_call_and_ends_the_call_through_live_call_control(vapi):
    commands = []

    async def control(request):
        commands.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/control", control)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        vapi.service.deps.http = http
        body = p.tool_calls("opt_out", {"reason": "not interested"})
        body["message"]["phoneNumber"]["number"] = "+15555550102"  # collections-en has opt_out
        body["message"]["call"]["monitor"] = {"controlUrl": str(server.make_url("/control"))}
        status, answer = await post(vapi, body)
    assert status == 200 and "do-not-call" in answer["results"][0]["result"], answer
    assert commands and commands[0]["type"] == "say" and commands[0]["endCallAfterSpoken"] is True
    async with vapi.db.session() as session:
        lead = await session.scalar(select(Lead).where(Lead.phone == p.CUSTOMER))
    assert lead.do_not_call


# The live call


async def test_status_updates_move_the_call(vapi):
    assert (await post(vapi, p.status_update("ringing")))[0] == 200
    assert (await only_call(vapi.db)).status == "ringing"
    await post(vapi, p.status_update("in-progress"))
    call = await only_call(vapi.db)
    assert call.status == "in-progress" and call.answered_at is not None
    await post(vapi, p.status_update("ended", "customer-ended-call"))
    call = await only_call(vapi.db)
    assert call.status == "completed" and call.ended_at is not None


async def test_conversation_updates_and_transcripts_keep_the_live_transcript(vapi):
    await post(vapi, p.conversation_update(p.LINES[:2]))
    call = await only_call(vapi.db)
    assert [u.text for u in await lines(vapi.db, call.id)] == [t for _, t in p.LINES[:2]]
    await post(vapi, p.transcript("assistant", p.LINES[2][1]))
    await post(vapi, p.transcript("user", "half a sentence", kind="partial"))
    assert len(await lines(vapi.db, call.id)) == 3
    await post(vapi, p.conversation_update(p.LINES))
    await post(vapi, p.conversation_update(p.LINES[:1]))  # a late, older update changes nothing
    got = await lines(vapi.db, call.id)
    assert [(u.seq, u.role, u.text) for u in got] == [
        (i + 1, "user" if r == "user" else "assistant", t) for i, (r, t) in enumerate(p.LINES)
    ]


async def lines(db, call_id):
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Utterance).where(Utterance.call_id == call_id).order_by(Utterance.seq)
            )
        )


# end-of-call-report


async def test_end_of_call_report_is_stored_then_analysed_scored_and_ruled_like_a_local_call(vapi):
    await post(vapi, p.tool_calls("update_lead", {"name": "Maria Lopez"}))
    status, answer = await post(vapi, p.end_of_call_report())
    assert status == 200 and answer == {"ok": True}
    call = await only_call(vapi.db)
    assert (call.provider, call.status, call.end_reason) == ("vapi", "completed", "caller-hangup")
    assert (
        call.recording_url == "https://storage.vapi.ai/7f3c-mono.wav"
        and call.cost == pytest.approx(0.1234)
    )
    assert call.duration_seconds == pytest.approx(22.5) and call.provider_report_at is not None
    assert call.extra["vapi"]["analysis"]["summary"].startswith("The caller asked")
    assert [u.text for u in await lines(vapi.db, call.id)] == [t for _, t in p.LINES]
    async with vapi.db.session() as session:
        tools = list(await session.scalars(select(ToolCall.name).order_by(ToolCall.id)))
    assert tools == ["update_lead", "endCall"]  # VAPI's own endCall is kept too
    assert call.analysis_status == "pending"
    assert await vapi.crm.queue.process_due() == 1
    async with vapi.db.session() as session:
        call = await session.get(Call, call.id)
        lead = await session.get(Lead, call.lead_id)
    assert call.analysis_status in ("done", "fallback")
    assert call.summary and call.sentiment_label == "positive" and call.outcome
    assert call.lead_score is not None and call.lead_score > 0
    assert lead.score == call.lead_score and lead.stage != "new"
    response = await vapi.get("/api/calls", headers={"Authorization": f"Bearer {KEY}"})
    [listed] = (await response.json())["data"]
    assert listed["provider"] == "vapi" and listed["providerCallId"] == p.CALL_ID


async def test_a_repeated_report_does_not_create_a_second_call_or_change_the_first(vapi):
    assert (await post(vapi, p.end_of_call_report()))[1] == {"ok": True}
    assert await vapi.crm.queue.process_due() == 1
    before = await only_call(vapi.db)
    status, answer = await post(vapi, p.end_of_call_report(lines=p.LINES[:1]))
    assert status == 200 and answer == {"ok": True, "duplicate": True}
    after = await only_call(vapi.db)
    assert after.id == before.id and after.analysis_status == before.analysis_status
    assert len(await lines(vapi.db, after.id)) == len(p.LINES)
    assert await vapi.crm.queue.process_due() == 0


async def test_concurrent_copies_of_a_report_store_it_once(vapi):
    results = await asyncio.gather(*(post(vapi, p.end_of_call_report("race-1")) for _ in range(4)))
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, body in results if body == {"ok": True}) == 1
    await only_call(vapi.db)
    assert await count(vapi.db, Utterance) == len(p.LINES)


async def test_a_no_answer_report_is_not_counted_as_answered(vapi):
    body = p.end_of_call_report(reason="customer-did-not-answer", lines=[])
    body["message"]["startedAt"] = None
    await post(vapi, body)
    call = await only_call(vapi.db)
    assert (
        call.status == "no-answer"
        and call.answered_at is None
        and call.end_reason == "provider-no-answer"
    )


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e400"])
async def test_a_report_with_a_duration_that_is_not_a_json_number_is_refused(vapi, number):
    raw = json.dumps(p.end_of_call_report()).replace(
        '"durationSeconds": 22.5', f'"durationSeconds": {number}'
    )
    assert number in raw
    status, body = await post(vapi, None, raw=raw)
    assert status == 400 and body["error"] == "invalid_json" and "JSON" in body["detail"]
    assert await count(vapi.db, Call) == 0


async def test_an_absurd_reported_duration_is_clamped_to_a_day(vapi):
    body = p.end_of_call_report()
    body["message"]["durationSeconds"] = 1e23
    assert (await post(vapi, body))[0] == 200
    assert (await only_call(vapi.db)).duration_seconds == 24 * 3600


async def test_an_infinity_already_stored_is_never_served(vapi):
    async with vapi.db.session() as session:
        session.add(Call(id="inf-1", duration_seconds=float("inf"), cost=float("-inf")))
    auth = {"Authorization": f"Bearer {KEY}"}
    for path in ("/api/calls", "/api/calls/inf-1"):
        response = await vapi.get(path, headers=auth)
        assert response.status == 200
        text = await response.text()
        body = _strict(text)  # raises on Infinity / NaN
        call = body["data"][0] if "data" in body else body
        assert call["durationSeconds"] is None and call["cost"] is None


def _broken(builder, where: str, value):
    """A payload from ``builder`` with the field at dotted ``where`` set to ``value``."""

    def make():
        body = builder()
        *path, last = where.split(".")
        node = body["message"]
        for key in path:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
        return body

    return make


def _report_with_string_tool_calls():
    body = p.end_of_call_report()
    body["message"]["artifact"]["messages"][-1]["toolCalls"] = ["endCall", 7]
    return body


WRONG_TYPES = {
    "customer.number as a number": _broken(p.end_of_call_report, "customer.number", 14155550123),
    "customer.number as a list": _broken(p.assistant_request, "customer.number", ["+1415"]),
    "call.customer.number as an object": _broken(
        lambda: p.status_update("in-progress"), "call.customer.number", {"e164": "+1"}
    ),
    "endedReason as a number": _broken(p.end_of_call_report, "endedReason", 42),
    "endedReason as an object": _broken(
        lambda: p.status_update("ended", "customer-ended-call"), "endedReason", {"why": "x"}
    ),
    "toolCalls holding strings": _report_with_string_tool_calls,
    "startedAt in year 1": _broken(p.end_of_call_report, "startedAt", "0001-01-01T00:00:00Z"),
    "endedAt past year 9999": _broken(p.end_of_call_report, "endedAt", 10**18),
    "toolCallList holding strings": _broken(
        lambda: p.tool_calls("update_lead", {}), "toolCallList", ["update_lead"]
    ),
    "status as a list": _broken(lambda: p.status_update("ended"), "status", ["ended"]),
    "transcript as a number": _broken(lambda: p.transcript("user", "hi"), "transcript", 5),
    "phoneNumber.number as a list": _broken(p.assistant_request, "phoneNumber.number", [1]),
    "artifact.messages as an object": _broken(p.end_of_call_report, "artifact.messages", {}),
    "cost as a string": _broken(p.end_of_call_report, "cost", "free"),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
async def test_a_field_of_the_wrong_type_is_400_naming_the_field(vapi, case):
    status, body = await post(vapi, WRONG_TYPES[case]())
    assert status == 400, body
    assert body["error"] == "invalid_request" and body["fields"], body
    async with vapi.db.session() as session:
        broken = await session.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.status == "completed", Call.ended_at.is_(None))
        )
    assert broken == 0, "no call is left completed without an end time"


@pytest.mark.parametrize("depth", [100, 100_000])
async def test_deeply_nested_json_is_400(vapi, depth):
    raw = '{"message": {"type": "hang", "x": ' + "[" * depth + "]" * depth + "}}"
    status, body = await post(vapi, None, raw=raw)
    assert status == 400 and body["error"], body


async def test_an_unknown_charset_is_read_as_json_bytes(vapi):
    response = await vapi.post(
        "/vapi/events",
        data=json.dumps(p.hang()).encode(),
        headers={"X-Vapi-Secret": SECRET, "Content-Type": "application/json; charset=no-such"},
    )
    assert response.status == 200


async def test_a_non_ascii_secret_is_401(vapi):
    for secret in ("sécret", b"\xff\xfe".decode("latin-1")):
        response = await vapi.post(
            "/vapi/events", data=json.dumps(p.hang()), headers={"X-Vapi-Secret": secret}
        )
        assert response.status == 401


# transfer-destination-request, hang, unknown


async def test_transfer_destination_is_the_assistants_human(vapi):
    body = p.transfer_destination_request()
    body["message"]["phoneNumber"]["number"] = APPOINTMENTS
    await post(
        vapi, p.assistant_request() | {"message": body["message"] | {"type": "assistant-request"}}
    )
    status, answer = await post(vapi, body)
    assert status == 200 and answer["destination"] == {"type": "number", "number": "+15555550150"}
    assert (await only_call(vapi.db)).transfer_target == "+15555550150"


async def test_no_transfer_destination_is_an_error_vapi_can_speak(vapi):
    status, answer = await post(vapi, p.transfer_destination_request())
    assert status == 200 and "no transfer destination" in answer["error"]


@pytest.mark.parametrize(
    "kind", ["hang", "speech-update", "model-output", "user-interrupted", "something-new"]
)
async def test_hang_and_unknown_types_are_acknowledged(vapi, kind):
    status, answer = await post(vapi, p.envelope(kind))
    assert status == 200 and answer == {}
