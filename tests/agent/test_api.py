"""The assistants API: a refused reload's problems by JSON path, and each reload audited."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent import api as agent_api
from agent.library import AssistantLibrary
from crm import api
from crm.api import openapi
from crm.calls import CallStore
from crm.db import Database
from crm.models import AuditLog
from crm.service import CrmService, CrmSettings
from crm.webhooks.outbox import WebhookSettings
from tests.crm.conftest import documented_answers

KEY = "secret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_problems_split_a_file_error_by_json_path():
    error = (
        "/a/sales.json: $.model.tools[0].type: Input should be 'function'; $.name: Field required"
    )
    assert agent_api.problems(error) == [
        {
            "file": "/a/sales.json",
            "path": "$.model.tools[0].type",
            "message": "Input should be 'function'",
        },
        {"file": "/a/sales.json", "path": "$.name", "message": "Field required"},
    ]
    assert agent_api.problems("/a/b.json: invalid JSON at line 2, column 1: Expecting value") == [
        {
            "file": "/a/b.json",
            "path": None,
            "message": "invalid JSON at line 2, column 1: Expecting value",
        }
    ]
    assert agent_api.problems(None) == []


async def test_a_refused_reload_shows_its_problems_and_is_audited(
    database: Database, tmp_path: Path
):
    (tmp_path / "default.json").write_text(json.dumps({"name": "default"}))
    library = AssistantLibrary(tmp_path)
    await library.load()
    # Every answer is checked against the OpenAPI document of /api with the assistants' routes.
    violations: list[str] = []
    document = openapi.document([*api.TABLES, agent_api.api])
    app = web.Application(
        middlewares=[documented_answers(violations, document), api.require_api_key]
    )
    app[api.STORE], app[api.API_KEY] = CallStore(database), KEY
    app[api.CRM] = CrmService(database, CrmSettings(webhooks=WebhookSettings(secret="s")))
    app[agent_api.ASSISTANTS] = library
    app.add_routes(api.routes)
    app.add_routes(agent_api.routes)
    broken = {"name": "sales", "model": {"tools": [{"type": "function", "function": {}}]}}
    (tmp_path / "sales.json").write_text(json.dumps(broken))
    async with TestClient(TestServer(app)) as client:
        refused = await client.post("/api/assistants/reload", headers=AUTH)
        assert refused.status == 422
        problem = (await refused.json())["reload"]["problems"][0]
        assert problem["file"].endswith("sales.json")
        assert problem["path"].startswith("$.model.tools[0]")
        listed = await (await client.get("/api/assistants", headers=AUTH)).json()
        assert listed["lastReload"]["problems"] == [problem]
        (tmp_path / "sales.json").unlink()
        applied = await client.post("/api/assistants/reload", headers=AUTH | {"X-Actor": "ops"})
        assert applied.status == 200
        one = await client.get("/api/assistants/default", headers=AUTH)
        assert one.status == 200 and (await one.json())["assistant"]["name"] == "default"
    assert not violations, violations
    async with database.session() as session:
        entries = list(await session.scalars(select(AuditLog).order_by(AuditLog.id)))
    assert [(e.actor, e.action, e.details["ok"]) for e in entries] == [
        ("api", "assistants.reload", False),
        ("api:ops", "assistants.reload", True),
    ]
