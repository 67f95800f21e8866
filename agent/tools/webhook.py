"""Webhook tools: a tool with a ``server.url`` runs on the admin's server, VAPI's tool-calls way."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp

from agent.tool_config import ServerConfig, ToolConfig
from agent.tools.base import Handler, Tool, ToolContext, ToolError, ToolResult
from crm.webhooks.signing import signed_headers


def tool_calls_message(
    config: ToolConfig, name: str, arguments: dict[str, Any], call_id: str, context: ToolContext
) -> dict[str, Any]:
    """The body VAPI POSTs to a tool's server: ``{"message": {"type": "tool-calls", ...}}``."""
    tool_call = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    customer = {"number": context.phone} if context.phone else {}
    return {
        "message": {
            "type": "tool-calls",
            "timestamp": int(time.time() * 1000),
            "toolCallList": [tool_call],
            "toolWithToolCallList": [
                {
                    **config.model_dump(by_alias=True, exclude_none=True, exclude={"server"}),
                    "toolCall": tool_call,
                }
            ],
            "call": {
                "id": context.call_id,
                "type": "outboundPhoneCall"
                if context.direction == "outbound"
                else "inboundPhoneCall",
                "phoneCallProvider": context.provider,
                "customer": customer,
                "leadId": context.lead_id,
            },
            "customer": customer,
            "assistant": {"name": context.assistant.name},
        }
    }


def _headers(server: ServerConfig, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **server.headers}
    if server.secret:
        headers.update({"X-Vapi-Secret": server.secret, **signed_headers(server.secret, body)})
    return headers


def _result_for(body: Any, call_id: str, name: str) -> Any:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise ToolError(
            f"the {name} service answered without results; expected "
            '{"results": [{"toolCallId": "...", "result": ...}]}'
        )
    item = next(
        (r for r in results if isinstance(r, dict) and r.get("toolCallId") == call_id), None
    )
    if item is None and len(results) == 1 and isinstance(results[0], dict):
        item = results[0]
    if item is None:
        raise ToolError(f"the {name} service answered without a result for this call ({call_id})")
    if item.get("error"):
        raise ToolError(f"the {name} service reported an error: {item['error']}")
    return item.get("result")


async def _post(http: aiohttp.ClientSession, server: ServerConfig, body: bytes, name: str) -> Any:
    timeout = aiohttp.ClientTimeout(total=server.timeout_seconds)
    try:
        async with http.post(
            server.url, data=body, headers=_headers(server, body), timeout=timeout
        ) as response:
            text = await response.text()
            if not 200 <= response.status < 300:
                raise ToolError(f"the {name} service answered HTTP {response.status}")
    except TimeoutError:
        raise ToolError(
            f"the {name} service did not answer within {server.timeout_seconds:g} s"
        ) from None
    except aiohttp.ClientError as e:
        raise ToolError(
            f"the {name} service could not be reached ({e.__class__.__name__})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ToolError(f"the {name} service answered with something that is not JSON") from None


def webhook_handler(config: ToolConfig, server: ServerConfig) -> Handler:
    """The handler that POSTs a call of this tool to ``server`` and reads the result back."""
    name = config.function.name if config.function else config.type

    async def run(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        body = json.dumps(tool_calls_message(config, name, arguments, call_id, context)).encode()
        if context.http is not None:
            answer = await _post(context.http, server, body, name)
        else:
            async with aiohttp.ClientSession() as http:
                answer = await _post(http, server, body, name)
        return ToolResult(value=_result_for(answer, call_id, name))

    return run


def webhook_tool(config: ToolConfig, server: ServerConfig) -> Tool:
    """A function tool that runs on ``server``."""
    assert config.function is not None
    parameters = config.function.parameters or {"type": "object", "properties": {}}
    return Tool(
        name=config.function.name,
        description=config.function.description,
        parameters={"type": "object", "properties": {}, **parameters},
        run=webhook_handler(config, server),
        config=config,
        builtin=False,
    )
