"""Webhook tools against a local HTTP server: success, timeout, bad JSON, wrong status, signing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from agent.assistant import Assistant
from agent.tools import ToolContext, execute, resolve_tools
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.models import ToolCall
from tests.fakes.signatures import signature_problem
from tests.fakes.tool_server import TOOL_SECRET, FakeToolServer, ToolAnswer


def assistant(url: str, *, timeout: float = 1.0, secret: str = TOOL_SECRET) -> Assistant:
    return Assistant.model_validate(
        {
            "name": "hooks",
            "server": {"url": url, "secret": secret, "timeoutSeconds": timeout},
            "model": {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "check_stock",
                            "description": "Stock of an item",
                            "parameters": {
                                "type": "object",
                                "properties": {"item": {"type": "string"}},
                                "required": ["item"],
                            },
                        },
                    }
                ]
            },
        }
    )


@pytest.fixture
async def context(tmp_path: Path, tool_api: FakeToolServer) -> ToolContext:
    database = Database(f"sqlite:///{tmp_path / 'hooks.db'}")
    await database.migrate()
    calls = CallStore(database)
    call = await calls.open(
        NewCall(provider="twilio", provider_call_id="CA9", from_number="+14155550100")
    )
    config = assistant(tool_api.url)
    yield ToolContext(
        db=database,
        calls=calls,
        assistant=config,
        tools=resolve_tools(config).tools,
        call_id=call.id,
        phone="+14155550100",
    )
    await database.close()


async def recorded(context: ToolContext) -> ToolCall:
    async with context.db.session() as session:
        return (await session.scalars(select(ToolCall))).one()


async def test_success_sends_vapis_tool_calls_message_signed(
    context: ToolContext, tool_api: FakeToolServer
):
    tool_api.script.append(ToolAnswer(result={"inStock": 3}))
    result = await execute("check_stock", {"item": "widget"}, context)
    assert result.ok and result.value == {"inStock": 3}
    [request] = tool_api.requests
    message = request["body"]["message"]
    assert message["type"] == "tool-calls"
    call = message["toolCallList"][0]
    assert call["function"] == {"name": "check_stock", "arguments": {"item": "widget"}}
    assert message["toolWithToolCallList"][0]["toolCall"]["id"] == call["id"]
    assert message["call"]["id"] == context.call_id and message["customer"] == {
        "number": "+14155550100"
    }
    headers = request["headers"]
    assert headers["X-Vapi-Secret"] == TOOL_SECRET
    assert headers["webhook-id"] and headers["webhook-signature"].startswith("v1,")
    assert signature_problem(TOOL_SECRET, headers, request["raw"]) is None
    record = await recorded(context)
    assert record.ok and record.result == {"inStock": 3} and record.arguments == {"item": "widget"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (ToolAnswer(delay=1.5), "did not answer within 1 s"),
        (ToolAnswer(raw="<html>oops</html>"), "answered with something that is not JSON"),
        (ToolAnswer(status=500), "answered HTTP 500"),
        (ToolAnswer(raw='{"ok": true}'), "answered without results"),
        (
            ToolAnswer(raw='{"results": [{"toolCallId": "x", "error": "item unknown"}]}'),
            "reported an error: item unknown",
        ),
    ],
    ids=["timeout", "bad-json", "wrong-status", "no-results", "tool-error"],
)
async def test_failures_reach_the_llm_and_the_record(
    context: ToolContext, tool_api: FakeToolServer, answer, error
):
    tool_api.script.append(answer)
    result = await execute("check_stock", {"item": "widget"}, context)
    assert not result.ok and error in result.error
    assert result.value == {"error": result.error}, "the LLM reads what went wrong"
    record = await recorded(context)
    assert not record.ok and error in record.error


async def test_unreachable_server(context: ToolContext):
    config = assistant("http://127.0.0.1:9/tools")
    context.assistant, context.tools = config, resolve_tools(config).tools
    result = await execute("check_stock", {"item": "widget"}, context)
    assert not result.ok and "could not be reached" in result.error


async def test_a_server_that_checks_signatures_refuses_a_tool_signed_with_another_secret(
    context: ToolContext, tool_api: FakeToolServer
):
    config = assistant(tool_api.url, secret="not-the-servers-secret")
    context.assistant, context.tools = config, resolve_tools(config).tools
    result = await execute("check_stock", {"item": "widget"}, context)
    assert not result.ok and "answered HTTP 401" in result.error
