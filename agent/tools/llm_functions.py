"""The tool registry as pipecat LLM functions: schemas, handlers, and lines while tools run."""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import FunctionCallResultProperties, TTSSpeakFrame
from pipecat.services.llm_service import FunctionCallParams
from pipecat.utils.types import NOT_GIVEN, NotGiven

from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.execute import execute

# A tool still running after this long gets a filler line (unless it configures its own timing).
DEFAULT_FILLER_MS = 1200


async def _say(params: FunctionCallParams, text: str) -> None:
    await params.llm.push_frame(TTSSpeakFrame(text, append_to_context=False))


async def _run_with_filler(
    tool: Tool, context: ToolContext, params: FunctionCallParams, run: asyncio.Future
):
    started = time.perf_counter()
    if not tool.speaks_for_itself:
        delay = (tool.delay_ms() or DEFAULT_FILLER_MS) / 1000
        done, _ = await asyncio.wait({run}, timeout=delay)
        if not done:
            filler = tool.message("request-response-delayed") or context.phrases.filler
            logger.debug(
                f"call {context.call_id}: {tool.name} still running after {delay:.1f}s; filler"
            )
            await _say(params, filler)
    result = await asyncio.shield(run)
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.debug(f"call {context.call_id}: {tool.name} answered in {elapsed_ms:.0f} ms")
    return result


def _settle_late(params: FunctionCallParams, run: asyncio.Future) -> None:
    settle = getattr(params.llm, "settle_late", None)
    if settle is not None and not run.cancelled() and run.exception() is None:
        settle(params.tool_call_id, run.result().value)


def _properties(result: ToolResult) -> FunctionCallResultProperties:
    """How pipecat goes on after a result: the LLM answers it, or (``run_llm=False``) it does not.

    "Answers" is left to pipecat (``run_llm=None``), which runs the LLM once, after the
    last of the tool calls the LLM made in one reply; ``True`` would run it after each
    of them, and the caller would hear one answer per call.
    """
    return FunctionCallResultProperties(run_llm=None if result.run_llm else False)


def _handler(tool: Tool, context: ToolContext):
    async def handle(params: FunctionCallParams) -> None:
        start_line = tool.message("request-start")
        if start_line:
            await _say(params, start_line)
        run = asyncio.ensure_future(
            execute(tool.name, dict(params.arguments), context, tool_call_id=params.tool_call_id)
        )
        try:
            result = await _run_with_filler(tool, context, params, run)
        except asyncio.CancelledError:
            # An interruption cancels this handler, never the tool: it finishes, is
            # recorded, and its result still reaches the LLM's next completion.
            run.add_done_callback(lambda done: _settle_late(params, done))
            raise
        failed_line = tool.message("request-failed")
        if not result.ok and failed_line and not result.spoke:
            await _say(params, failed_line)
        await params.result_callback(result.value, properties=_properties(result))

    return handle


def _schema(tool: Tool, context: ToolContext) -> FunctionSchema:
    parameters = tool.parameters_in(context)
    return FunctionSchema(
        name=tool.name,
        description=tool.description,
        properties=parameters.get("properties", {}),
        required=list(parameters.get("required", [])),
        handler=_handler(tool, context),
    )


def tools_schema(context: ToolContext) -> ToolsSchema | NotGiven:
    """The call's tools for an ``LLMContext``; each schema carries its handler."""
    schemas = [_schema(tool, context) for tool in context.tools.values()]
    return ToolsSchema(standard_tools=schemas) if schemas else NOT_GIVEN
