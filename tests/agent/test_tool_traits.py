"""What a tool declares about itself reaches the LLM and the call: its schema, its silence."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pipecat.frames.frames import LLMContextFrame, TTSSpeakFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

from agent.assistant import Assistant
from agent.llm import LLMEndpoint, create_llm
from agent.tool_config import ToolConfig
from agent.tools import Tool, ToolContext, ToolResult, resolve_tools
from agent.tools.llm_functions import tools_schema
from crm.calls import CallStore
from crm.db import Database
from crm.stages import Stages
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

FILLER = "Hold on."


def context_for(assistant: Assistant, tools: dict[str, Tool], **kwargs: Any) -> ToolContext:
    db = Database("sqlite:///:memory:")  # never opened: no call id, so nothing is recorded
    return ToolContext(db=db, calls=CallStore(db), assistant=assistant, tools=tools, **kwargs)


def test_the_llm_sees_the_stages_and_destinations_of_the_call():
    assistant = Assistant.model_validate(
        {
            "name": "t",
            "model": {
                "tools": [
                    {"type": "function", "function": {"name": "set_stage"}},
                    {
                        "type": "transferCall",
                        "destinations": [
                            {"type": "number", "number": "+14155550199", "description": "sales"},
                            {"type": "sip", "sipUri": "sip:desk@example.com"},
                        ],
                    },
                ]
            },
        }
    )
    stages = Stages(names=("new", "qualified", "won", "lost"))
    context = context_for(assistant, resolve_tools(assistant).tools, stages=stages)
    schemas = {s.name: s for s in tools_schema(context).standard_tools}
    assert schemas["set_stage"].properties["stage"]["enum"] == ["new", "qualified", "won", "lost"]
    assert schemas["transfer_to_human"].properties["destination"]["enum"] == [
        "sales",
        "sip:desk@example.com",
    ]


def slow_tool(**traits: Any) -> Tool:
    """A tool that answers after 0.3 s and asks for its filler after 50 ms."""

    async def run(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        await asyncio.sleep(0.3)
        return ToolResult("done", run_llm=False)

    config = ToolConfig.model_validate(
        {
            "type": "function",
            "function": {"name": "slow"},
            "messages": [
                {"type": "request-response-delayed", "content": FILLER, "timingMilliseconds": 50}
            ],
        }
    )
    parameters = {"type": "object", "properties": {}, "required": []}
    return Tool("slow", "Takes a while.", parameters, run, config=config, **traits)


@pytest.mark.parametrize("speaks_for_itself", [False, True])
async def test_only_a_tool_that_speaks_for_itself_goes_without_a_filler(
    llm: FakeOpenAI, speaks_for_itself: bool
):
    llm.script.append(Reply("", tool_calls=[ToolCall("slow", {})]))
    assistant = Assistant.model_validate({"name": "t"})
    tool = slow_tool(speaks_for_itself=speaks_for_itself)
    context = LLMContext(
        messages=[{"role": "user", "content": "Go."}],
        tools=tools_schema(context_for(assistant, {"slow": tool})),
    )
    service = create_llm(assistant, LLMEndpoint(base_url=llm.url, api_key="test", model="fake"))
    down, _ = await run_test(
        service, frames_to_send=[LLMContextFrame(context=context), SleepFrame(0.6)]
    )
    said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
    assert said == ([] if speaks_for_itself else [FILLER])
