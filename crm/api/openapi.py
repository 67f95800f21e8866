"""The OpenAPI 3.1 document of /api, built from the routes' own models and docstrings."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from crm.api.auth import COOKIE, CSRF_HEADER, PUBLIC
from crm.api.http import Operation, Routes
from crm.api.responses import Error

# aiohttp's "{name}" and "{name:regex}" path parameters.
PATH_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")
ENUM = re.compile(r"^[\w-]+(\|[\w-]+)*$")


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}", mode=mode
    )
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_path(path: str) -> str:
    """An aiohttp route as an OpenAPI path: ``{action:start|stop}`` becomes ``{action}``."""
    return PATH_PARAM.sub(lambda m: "{" + m[1] + "}", path)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = []
    for name, pattern in PATH_PARAM.findall(op.path):
        schema: dict[str, Any] = {"type": "string"}
        if pattern and ENUM.match(pattern):
            schema["enum"] = pattern.split("|")
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        schema = op.query.model_json_schema(by_alias=True)
        for name, prop in schema.get("properties", {}).items():
            description = prop.pop("description", None)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": prop,
                    **({"description": description} if description else {}),
                }
            )
    return params


def _success(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    if op.success == 204:
        return {"description": "done (no content)"}
    if op.response is not None:
        schema = _schema(op.response, components, "serialization")
        description = (op.response.__doc__ or "OK").strip().splitlines()[0]
    else:
        schema = {"type": "object" if op.response_type.endswith("json") else "string"}
        description = "OK"
    return {"description": description, "content": {op.response_type: {"schema": schema}}}


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": _schema(Error, components, "serialization")}}
    item: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "x-agents": op.agents,
        "parameters": _parameters(op),
        "security": [] if (op.method, op.path) in PUBLIC else [{"bearer": []}, {"session": []}],
        "responses": {
            **{str(status): _success(op, components) for status in (op.success, *op.also)},
            "400": {"description": "invalid input, with each field's problem", "content": error},
            "401": {"description": "missing or wrong API key", "content": error},
            "403": {
                "description": (
                    "open to agents, but not to this one"
                    if op.agents
                    else "admin only: an agent's token is refused"
                ),
                "content": error,
            },
            "default": {
                "description": "another error (409, 413, 415, 422, 503...)",
                "content": error,
            },
        },
    }
    if PATH_PARAM.search(op.path):
        item["responses"]["404"] = {"description": "unknown id", "content": error}
    if op.body is not None:
        schema = (
            _schema(op.body, components, "validation")
            if op.body_type == "application/json"
            else {"type": "string", "description": (op.body.__doc__ or "").strip()}
        )
        item["requestBody"] = {"required": True, "content": {op.body_type: {"schema": schema}}}
    return item


def document(tables: list[Routes]) -> dict[str, Any]:
    """The OpenAPI document for these route tables."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for table in tables:
        for op in table.operations:
            paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(
                op, components
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "phoneagent admin API",
            "version": "1",
            "description": "Leads, calls, analysis, follow-ups, automation and analytics. "
            "Send Authorization: Bearer <API_KEY>, or sign a browser in (POST /api/session) "
            f"and send its cookie, with {CSRF_HEADER} on writes. Lists take limit and offset. "
            "An agent's token (Bearer, or signed in) reaches the operations marked "
            "x-agents: true, and only what that agent may see.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            },
        },
    }


def routes(tables: list[Routes]) -> Routes:
    """``GET /api/openapi.json`` (public: it holds no data), describing ``tables`` and itself."""
    table = Routes("documentation")
    body: dict[str, Any] = {}

    @table.route("GET", "/api/openapi.json")
    async def openapi(request: web.Request) -> web.Response:
        """The OpenAPI 3.1 document of this API."""
        return web.json_response(body)

    body.update(document([*tables, table]))
    return table
