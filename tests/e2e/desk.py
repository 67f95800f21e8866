"""Helpers of the agent-desk tests: agents of the sales queue, a caller who asks for a person."""

from __future__ import annotations

import asyncio
import time

from telephony.simulator import CallSimulator
from tests.conftest import ServerProcess
from tests.e2e.assistants import QUEUE_LINE
from tests.fakes.openai_server import Reply
from tests.fakes.openai_server import ToolCall as ScriptedCall
from tests.fakes.twilio_rest import FakeTwilio
from tests.web.conftest import api

REASON, SUMMARY = "wants to upgrade", "Customer on the 300 Mb plan asks about the gigabit plan."


async def only_agent(
    server: ServerProcess, name: str, phone: str, queue: str = "sales", **fields
) -> dict:
    """A new available agent of ``queue``; every other agent is set offline."""
    status, agents = await api(server, "GET", "/api/agents")
    assert status == 200
    for agent in agents["data"]:
        await api(
            server, "PUT", f"/api/agents/{agent['id']}/presence", json={"presence": "offline"}
        )
    body = {"name": name, "phone": phone, "queues": [queue], "presence": "available", **fields}
    status, agent = await api(server, "POST", "/api/agents", json=body)
    assert status == 201, agent
    return agent


def transfer_request(destination: str | None = None) -> Reply:
    """The LLM asks for a transfer (to the first destination, sales, unless named)."""
    arguments = {"reason": REASON, "summary": SUMMARY}
    if destination:
        arguments["destination"] = destination
    return Reply("", tool_calls=[ScriptedCall("transfer_to_human", arguments)])


async def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def caller(server: ServerProcess, twilio: FakeTwilio, phone: str) -> CallSimulator:
    call = CallSimulator(
        server.url, auth_token=server.auth_token, from_number=phone, to_number=QUEUE_LINE
    )
    twilio.live_media[call.call_sid] = call.run_twiml
    return call
