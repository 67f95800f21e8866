"""Running a tool: one entry point for our pipeline and for VAPI's tool-calls webhook."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from loguru import logger

from agent.tools.base import ToolContext, ToolError, ToolResult
from crm.calls import NewToolCall


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


async def execute(
    name: str,
    arguments: Mapping[str, Any],
    context: ToolContext,
    *,
    tool_call_id: str | None = None,
) -> ToolResult:
    """Run the tool ``name`` of the call's assistant and record the call.

    Never raises for a tool's own failure: a ``ToolError`` becomes a result the LLM
    can read (``ok=False``), an unexpected exception is logged and reported as a
    failure without details. Every call is stored with the call (name, arguments,
    result, ok/error, duration).

    Args:
        name: The function name the LLM called.
        arguments: Its arguments, as parsed from the LLM's JSON.
        context: The call it runs in.
        tool_call_id: The LLM's id for this call (kept on the record).
    """
    started = time.perf_counter()
    if context.on_tool_start is not None:
        context.on_tool_start()
    tool = context.tools.get(name)
    try:
        if tool is None:
            raise ToolError(
                f"there is no tool named {name!r}; tools are: {', '.join(context.tools) or 'none'}"
            )
        result = await tool.run(context, dict(arguments))
    except ToolError as e:
        result = ToolResult(value={"error": str(e)}, ok=False, error=str(e))
    except Exception as e:
        logger.exception(f"call {context.call_id}: tool {name} failed: {e}")
        result = ToolResult(
            value={"error": "the tool failed unexpectedly; tell the caller and offer a callback"},
            ok=False,
            error=f"{type(e).__name__}: {e}",
        )
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.info(
        f"call {context.call_id}: tool {name} {'ok' if result.ok else 'failed'} in "
        f"{duration_ms:.0f} ms" + (f" ({result.error})" if result.error else "")
    )
    record = NewToolCall(
        name=name,
        arguments=_jsonable(dict(arguments)),
        result=_jsonable(result.value),
        ok=result.ok,
        error=result.error,
        duration_ms=duration_ms,
        tool_call_id=tool_call_id,
    )
    if context.on_tool_call is not None:
        context.on_tool_call(record)  # the live call's journal stores it, in order
    else:
        await _record(context, record)
    return result


async def _record(context: ToolContext, record: NewToolCall) -> None:
    if context.call_id is None:
        return
    try:
        await context.calls.add_tool_call(context.call_id, record)
    except Exception as e:  # the call goes on; the record is lost
        logger.error(f"call {context.call_id}: could not record tool call {record.name}: {e}")
