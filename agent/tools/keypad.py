"""The built-in tool that presses keys on the phone keypad: VAPI's ``dtmf``, for phone menus."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from agent.tools.base import (
    DtmfFailed,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    json_schema,
    parse_args,
)

KEYS = re.compile(r"[0-9*#w]+")
# What an LLM writes between keys ("1, 2, 3", "555-0100") that is not a key.
SEPARATORS = re.compile(r"[\s,.\-()]")


class DtmfArgs(ToolArgs):
    """The keys to press."""

    keys: str = Field(
        min_length=1,
        max_length=50,
        description="The keys, in order: 0-9, * and #; w waits half a second, W one second "
        "(e.g. 1, or 4815w1623#)",
    )


def keys_of(written: str) -> str:
    """The keys to send for what the LLM wrote: separators dropped, ``W`` as two ``w``.

    Raises:
        ToolError: Anything else than keys and pauses, or nothing to press.
    """
    keys = SEPARATORS.sub("", written).replace("W", "ww")
    if not KEYS.fullmatch(keys):
        bad = sorted(set(re.sub(r"[0-9*#w]", "", keys)))
        raise ToolError(
            f"keys must be 0-9, * and # (w or W to wait), not {''.join(bad)!r}"
            if bad
            else "no keys to press"
        )
    return keys


async def press_keys(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Send the keys on the live call; the LLM then waits for what the line says next."""
    args: DtmfArgs = parse_args(DtmfArgs, arguments)
    keys = keys_of(args.keys)
    if context.control is None:
        raise ToolError("there is no live call to press keys on")
    try:
        await context.control.send_dtmf(keys)
    except DtmfFailed as e:
        return ToolResult(
            value=f"The keys were not pressed ({e}). If the menu also takes spoken answers, "
            "say the option instead.",
            ok=False,
            error=f"keys not sent: {e}",
        )
    return ToolResult(value=f"Pressed {keys}.", run_llm=False)


KEYPAD_TOOLS = [
    Tool(
        "dtmf",
        "Press keys on the phone keypad (DTMF tones): choose an option in an automated phone menu, "
        "or enter a number it asks for. Wait until the menu has finished listing its options; "
        "after pressing, wait for what the line says next.",
        json_schema(DtmfArgs),
        press_keys,
        speaks_for_itself=True,  # nothing to fill: no filler line while the keys are sent
        vapi_type="dtmf",
    ),
]
