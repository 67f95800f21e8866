"""Which tools an assistant gets: its ``model.tools`` entries resolved to built-ins and webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.assistant import Assistant
from agent.tool_config import ServerConfig, ToolConfig
from agent.tools.base import Tool, ToolsetError
from agent.tools.call import CALL_TOOLS
from agent.tools.keypad import KEYPAD_TOOLS
from agent.tools.leads import LEAD_TOOLS
from agent.tools.scheduling import SCHEDULING_TOOLS
from agent.tools.webhook import webhook_tool

# The registration: a new built-in is declared in its module and listed here, nowhere else.
BUILTINS: dict[str, Tool] = {
    t.name: t for t in (*LEAD_TOOLS, *SCHEDULING_TOOLS, *CALL_TOOLS, *KEYPAD_TOOLS)
}
# VAPI's own tool types (``endCall``, ``transferCall``, ``dtmf``) by the built-in each one means.
BY_VAPI_TYPE: dict[str, Tool] = {t.vapi_type: t for t in BUILTINS.values() if t.vapi_type}


@dataclass
class Toolset:
    """An assistant's tools by name, and what was ignored while resolving them."""

    tools: dict[str, Tool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, tool: Tool, path: str) -> None:
        """Add a tool, refusing a second one with the same name."""
        if tool.name in self.tools:
            raise ToolsetError(
                f"{path}: a second tool named {tool.name!r}; tool names must be unique"
            )
        self.tools[tool.name] = tool


def _server(config: ToolConfig, assistant: Assistant) -> ServerConfig | None:
    own = config.server
    if own is not None and own.url:
        secret = own.secret or assistant.server.secret
        return own.model_copy(update={"secret": secret})
    return assistant.server if assistant.server.url else None


def _function(config: ToolConfig, assistant: Assistant, path: str) -> Tool:
    assert config.function is not None
    name = config.function.name
    own_server = config.server is not None and bool(config.server.url)
    if name in BUILTINS and not own_server:
        return BUILTINS[name].configured(config, assistant, path)
    server = _server(config, assistant)
    if server is None:
        raise ToolsetError(
            f"{path}.function.name: {name!r} is not a built-in tool ({', '.join(BUILTINS)}) "
            "and has no server.url (neither its own nor the assistant's) to run it"
        )
    return webhook_tool(config, server)


def resolve_tools(assistant: Assistant) -> Toolset:
    """The tools an assistant gets.

    Raises:
        ToolsetError: An entry that names no tool we can run, or a duplicate name.
    """
    toolset = Toolset()
    for i, config in enumerate(assistant.model.tools):
        path = f"$.model.tools[{i}]"
        if config.type in BY_VAPI_TYPE:
            toolset.add(BY_VAPI_TYPE[config.type].configured(config, assistant, path), path)
        elif config.type == "function":
            toolset.add(_function(config, assistant, path), path)
        else:
            toolset.warnings.append(
                f"{path}: tool type {config.type!r} is not supported here; ignored"
            )
    end_call = BY_VAPI_TYPE["endCall"]  # what VAPI's endCallFunctionEnabled switches on
    if assistant.end_call_function_enabled and end_call.name not in toolset.tools:
        path = "$.endCallFunctionEnabled"
        toolset.add(end_call.configured(None, assistant, path), path)
    return toolset
