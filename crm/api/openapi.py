"""The OpenAPI 3.1 document of /api, built from the routes' own models and docstrings."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from crm.api.auth import COOKIE, CSRF_HEADER, PUBLIC
from crm.api.http import Operation, Routes

PATH_PARAM = re.compile(r"\{(\w+)\}")
ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAM.findall(op.path)
    ]
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


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    success = (
        {"POST": "201"}.get(op.method, "200") if op.response_type == "application/json" else "200"
    )
    item: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "security": [] if (op.method, op.path) in PUBLIC else [{"bearer": []}, {"session": []}],
        "responses": {
            success: {
                "description": "OK",
                "content": {
                    op.response_type: {
                        "schema": {"type": "object"}
                        if op.response_type.endswith("json")
                        else {"type": "string"}
                    }
                },
            },
            "400": {
                "description": "invalid input, with field errors",
                "content": {"application/json": {"schema": ERROR}},
            },
            "401": {"description": "missing or wrong API key"},
        },
    }
    if PATH_PARAM.search(op.path):
        item["responses"]["404"] = {"description": "unknown id"}
    if op.body is not None:
        schema = (
            _schema(op.body, components)
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
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "phoneagent admin API",
            "version": "1",
            "description": "Leads, calls, analysis, follow-ups, automation and analytics. "
            "Send Authorization: Bearer <API_KEY>, or sign a browser in (POST /api/session) "
            f"and send its cookie, with {CSRF_HEADER} on writes. Lists take limit and offset.",
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


def routes(tables: list[Routes]) -> web.RouteTableDef:
    """The route serving the document (public: it holds no data)."""
    table = web.RouteTableDef()
    body = document(tables)

    @table.get("/api/openapi.json")
    async def openapi(request: web.Request) -> web.Response:
        """The OpenAPI document of this API."""
        return web.json_response(body)

    return table
