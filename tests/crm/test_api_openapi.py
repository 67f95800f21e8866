"""The OpenAPI document: every /api route of the real app is in it, each answer has a schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from config import Settings
from crm.api.openapi import openapi_path
from server import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> web.Application:
    """The server's application as ``phoneagent-server`` builds it (nothing started)."""
    data = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(data_dir=data, api_key="k", _env_file=None))


async def served(app: web.Application, path: str) -> web.Response:
    """What the app answers to ``GET path``, through its own router."""
    request = make_mocked_request("GET", path, app=app)
    match = await app.router.resolve(request)
    request._match_info = match
    return await match.handler(request)


async def test_every_api_route_of_the_app_is_in_the_document(app: web.Application):
    document = json.loads((await served(app, "/api/openapi.json")).body)
    missing = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if not canonical.startswith("/api") or route.method in ("HEAD", "OPTIONS"):
            continue
        path = openapi_path(canonical)
        if route.method.lower() not in document["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert not missing, f"routes missing from /api/openapi.json: {missing}"
    assert "/api/assistants/{name}" in document["paths"] and "/api/docs" in document["paths"]
    assert document["paths"]["/api/campaigns/{campaign_id}/{action}"]["post"]["parameters"][1][
        "schema"
    ]["enum"] == ["start", "schedule", "pause", "resume", "stop", "archive"]


async def test_every_json_answer_has_a_response_schema(app: web.Application):
    document = json.loads((await served(app, "/api/openapi.json")).body)
    schemas = document["components"]["schemas"]
    vague = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/json")
                if content is None or path == "/api/openapi.json":
                    continue
                ref = content["schema"].get("$ref", "")
                if ref.rsplit("/", 1)[-1] not in schemas:
                    vague.append(f"{method.upper()} {path} {status}")
    assert not vague, f"answers without a response model: {vague}"
    assert schemas["CallSummary"]["additionalProperties"] is False
    assert "from" in schemas["CallSummary"]["properties"]


async def test_the_docs_page_loads_only_our_own_files(app: web.Application):
    response = await served(app, "/api/docs")
    page = Path(response._path).read_text()
    assert '<script type="module" src="/static/js/docs.js">' in page
    assert "http" not in page.replace("http-equiv", ""), "nothing from another site"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
