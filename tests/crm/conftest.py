"""CRM test helpers: calls with transcripts, written the way a live call writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator

from crm import api
from crm.api import openapi
from crm.calls import CallStore, NewCall, NewUtterance
from crm.db import Database
from crm.leads import LeadStore
from crm.models import Call
from crm.service import CrmService, CrmSettings
from crm.webhooks.outbox import WebhookSettings

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

SALES_CALL = [
    ("assistant", "Hi, thanks for calling Fibra Max. How can I help you today?"),
    ("user", "Hi, how much does the 300 megabit fiber plan cost per month?"),
    ("assistant", "It is 45 dollars a month, installation included."),
    ("user", "That sounds great. Do you have coverage in Los Olivos?"),
    ("assistant", "Yes, we do. Would you like to book an installation visit?"),
    ("user", "Yes please, I need it next week. My budget is 50 dollars."),
]


async def record_call(
    database: Database,
    lines: list[tuple[str, str]],
    *,
    phone: str | None = "+14155550100",
    sid: str = "CA-test",
    answered: bool = True,
    status: str | None = None,
    answered_by: str | None = None,
    seconds_per_line: float = 5.0,
    assistant: str = "default",
) -> Call:
    """A finished call as the server would have stored it; its analysis is pending."""
    store = CallStore(database)
    lead = await LeadStore(database).get_or_create(phone, source="inbound-call") if phone else None
    call = await store.open(
        NewCall(
            provider="twilio",
            provider_call_id=sid,
            from_number=phone,
            to_number="+15555550199",
            assistant=assistant,
            lead_id=lead.id if lead else None,
        )
    )
    if not answered:
        return await store.provider_status("twilio", sid, status or "no-answer")
    await store.stream_started(call.id, f"MZ-{sid}")
    async with database.session() as session:
        row = await session.get(Call, call.id)
        row.started_at = row.answered_at = T0
        row.answered_by = answered_by
    for i, (role, text) in enumerate(lines):
        start = T0 + timedelta(seconds=i * seconds_per_line)
        await store.add_utterance(
            call.id,
            NewUtterance(role, text, start, start + timedelta(seconds=seconds_per_line - 1)),
        )
    await store.finalize(call.id, end_reason="caller-hangup")
    async with database.session() as session:
        row = await session.get(Call, call.id)
        row.ended_at = T0 + timedelta(seconds=len(lines) * seconds_per_line)
        row.duration_seconds = len(lines) * seconds_per_line
    return await store.get(call.id)


@pytest.fixture
def call_lines() -> list[tuple[str, str]]:
    return list(SALES_CALL)


KEY = "secret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = Path(__file__).resolve().parents[2]


DOCUMENT = openapi.document([*api.TABLES, openapi.routes(api.TABLES)])


def documented_answers(violations: list[str], document: dict = DOCUMENT):
    """A middleware that checks every /api JSON answer against the OpenAPI ``document``."""

    @web.middleware
    async def check(request: web.Request, handler):
        response = await handler(request)
        resource = request.match_info.route.resource
        if resource is None or not isinstance(response, web.Response) or not response.body:
            return response
        if response.content_type != "application/json":
            return response
        path = openapi.openapi_path(resource.canonical)
        operation = document["paths"].get(path, {}).get(request.method.lower())
        if operation is None:
            violations.append(f"{request.method} {path}: not in the OpenAPI document")
            return response
        answers = operation["responses"]
        answer = answers.get(str(response.status)) or answers["default"]
        content = answer.get("content", {}).get("application/json")
        if content is None:
            violations.append(f"{request.method} {path} {response.status}: no JSON documented")
            return response
        schema = {**content["schema"], "components": document["components"]}
        for error in Draft202012Validator(schema).iter_errors(json.loads(response.body)):
            where = "/".join(map(str, error.absolute_path))
            violations.append(f"{request.method} {path} {response.status} {where}: {error.message}")
        return response

    return check


@pytest.fixture
async def client(database: Database):
    """The admin API over a real HTTP server on the test database, with the shipped rules.

    Every JSON answer is checked against the OpenAPI document: a test whose answers do not
    match it fails.
    """
    crm = CrmService(
        database,
        CrmSettings(
            rules_dir=ROOT / "rules", webhooks=WebhookSettings(secret="s"), default_region="ES"
        ),
    )
    violations: list[str] = []
    app = web.Application(middlewares=[documented_answers(violations), api.require_api_key])
    app[api.STORE] = CallStore(database)
    app[api.API_KEY] = KEY
    app[api.CRM] = crm
    app.add_routes(api.routes)
    app.add_routes(api.documented())
    async with TestClient(TestServer(app)) as http:
        http.crm = crm
        http.db = database
        yield http
    assert not violations, "answers that differ from /api/openapi.json:\n" + "\n".join(
        dict.fromkeys(violations)
    )
