"""Which tools an assistant gets: its ``model.tools`` entries resolved to built-ins and webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agent.assistant import Assistant
from agent.tool_config import ServerConfig, ToolConfig
from agent.tools.base import Tool
from agent.tools.call import CALL_TOOLS, transfer_parameters
from agent.tools.leads import LEAD_TOOLS
from agent.tools.scheduling import SCHEDULING_TOOLS
from agent.tools.webhook import webhook_tool

BUILTINS: dict[str, Tool] = {t.name: t for t in (*LEAD_TOOLS, *SCHEDULING_TOOLS, *CALL_TOOLS)}


class ToolsetError(ValueError):
    """A ``model.tools`` entry that cannot be used; the message starts with its JSON path."""


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


def _builtin(name: str, config: ToolConfig | None) -> Tool:
    tool = BUILTINS[name]
    description = config.function.description if config and config.function else ""
    return replace(tool, config=config, description=description or tool.description)


def _server(config: ToolConfig, assistant: Assistant) -> ServerConfig | None:
    own = config.server
    if own is not None and own.url:
        secret = own.secret or assistant.server.secret
        return own.model_copy(update={"secret": secret})
    return assistant.server if assistant.server.url else None


def _transfer(config: ToolConfig | None, assistant: Assistant, path: str) -> Tool:
    destinations = list(config.destinations) if config else []
    if not destinations and not assistant.forwarding_phone_number:
        raise ToolsetError(
            f"{path}: transfer_to_human needs a destination: set forwardingPhoneNumber, or use "
            '{"type": "transferCall", "destinations": [{"type": "number", "number": "+1..."}]}'
        )
    tool = _builtin("transfer_to_human", config)
    return replace(tool, parameters=transfer_parameters(destinations))


def _function(config: ToolConfig, assistant: Assistant, path: str) -> Tool:
    assert config.function is not None
    name = config.function.name
    own_server = config.server is not None and bool(config.server.url)
    if name in BUILTINS and not own_server:
        return (
            _transfer(config, assistant, path)
            if name == "transfer_to_human"
            else _builtin(name, config)
        )
    server = _server(config, assistant)
    if server is None:
        raise ToolsetError(
            f"{path}.function.name: {name!r} is not a built-in tool ({', '.join(BUILTINS)}) and has no "
            "server.url (neither its own nor the assistant's) to run it"
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
        if not config.supported:
            toolset.warnings.append(
                f"{path}: tool type {config.type!r} is not supported here; ignored"
            )
        elif config.type == "endCall":
            toolset.add(_builtin("end_call", config), path)
        elif config.type == "transferCall":
            toolset.add(_transfer(config, assistant, path), path)
        else:
            toolset.add(_function(config, assistant, path), path)
    if assistant.end_call_function_enabled and "end_call" not in toolset.tools:
        toolset.add(_builtin("end_call", None), "$.endCallFunctionEnabled")
    return toolset
