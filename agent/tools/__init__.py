"""The tool registry: built-in CRM and call tools, webhook tools, and running them."""

from agent.tools.base import (
    CallControl,
    DtmfFailed,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    ToolsetError,
    TransferBrief,
    TransferFailed,
)
from agent.tools.execute import execute
from agent.tools.toolset import BUILTINS, Toolset, resolve_tools

__all__ = [
    "BUILTINS",
    "CallControl",
    "DtmfFailed",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolset",
    "ToolsetError",
    "TransferBrief",
    "TransferFailed",
    "execute",
    "resolve_tools",
]
