"""What every tool shares: its definition, the call it runs in, and what it returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.phrases import ENGLISH, Phrases
from agent.tool_config import ToolConfig, TransferDestination
from crm.models import Lead, utcnow
from crm.stages import Stages

if TYPE_CHECKING:
    import aiohttp
    from sqlalchemy.ext.asyncio import AsyncSession

    from agent.assistant import Assistant
    from crm.calls import CallStore, NewToolCall
    from crm.db import Database
    from crm.policy import Policy


class ToolError(Exception):
    """A tool could not do what was asked; the message is for the LLM (and the call record)."""


class ToolsetError(ValueError):
    """A ``model.tools`` entry that cannot be used; the message starts with its JSON path."""


class TransferFailed(Exception):
    """The live call could not be moved to a person; the message says why (for the log)."""


@dataclass(frozen=True)
class TransferBrief:
    """What the assistant tells the person a call goes to: why, and where things stand."""

    reason: str
    summary: str


class DtmfFailed(Exception):
    """Keypad tones could not be sent on the live call; the message says why."""


@dataclass
class ToolResult:
    """What a tool returns.

    Parameters:
        value: What the LLM reads (JSON-serializable): a sentence, or a small object.
        ok: Whether the tool did what was asked.
        error: Why not, for the call record.
        run_llm: Whether the LLM answers the result (with the results of the other
            tools it called in the same reply: one answer to them all). False when
            the tool has already spoken, or is ending or moving the call.
        spoke: Whether the tool already told the caller how it went (so no
            ``request-failed`` line is added).
    """

    value: Any
    ok: bool = True
    error: str | None = None
    run_llm: bool = True
    spoke: bool = False


class CallControl(Protocol):
    """What a tool may do to the live call; each provider implements it (our pipeline, VAPI)."""

    async def say(self, text: str) -> None:
        """Say a line after what the assistant is saying now; returns at once."""

    async def hang_up(self, reason: str, goodbye: str | None) -> None:
        """Start ending the call: say ``goodbye`` (if any), let it play out, hang up.

        Returns at once; the call ends in the background with ``reason`` recorded.
        """

    async def transfer(
        self,
        destination: TransferDestination,
        announcement: str,
        brief: TransferBrief | None = None,
    ) -> None:
        """Say ``announcement``, then move the call to ``destination``.

        ``brief`` is what the person taking the call is told (a warm transfer's whisper,
        the agent console's offer).

        Raises:
            TransferFailed: The call is still ours; say so to the caller.
        """

    async def send_dtmf(self, keys: str) -> None:
        """Press keypad keys on the call (``0-9``, ``*``, ``#``; ``w`` waits half a second).

        Returns once they were sent and the call is listened to again.

        Raises:
            DtmfFailed: Not sent (the carrier cannot, or refused).
        """


@dataclass
class ToolContext:
    """The call a tool runs in.

    Parameters:
        db: The CRM database.
        calls: The call store (every tool call is recorded through it).
        assistant: The assistant of the call, as the call started with it.
        tools: The assistant's tools by name.
        call_id: Our call id (None outside a call, e.g. in tests).
        lead_id: The lead this call is with, when known.
        phone: The other party's number (E.164).
        timezone: The caller's IANA zone; times the LLM names are read in it.
        phrases: Lines in the caller's language.
        control: The live call, when there is one.
        stages: The pipeline stages ``set_stage`` accepts.
        policy: Scoring and rules: BANT answers given in the call rescore the lead and
            run the rules at once (None: they wait for the post-call analysis).
        http: An HTTP session for webhook tools.
        provider: ``twilio`` or ``vapi``: sent to webhook tools.
        direction: ``inbound`` or ``outbound``: sent to webhook tools.
        now: The clock (tests may pin it).
        on_tool_call: Takes each tool call's record once it answered, to store it (the
            live call's journal: in order with the lines, kept through a database
            outage, and told to the call's feed); None: stored here at once.
        on_tool_start: Told as each tool call starts, before its record comes (the
            journal waits for the records of tools still running when the call ends).
    """

    db: Database
    calls: CallStore
    assistant: Assistant
    tools: Mapping[str, Tool]
    call_id: str | None = None
    lead_id: str | None = None
    phone: str | None = None
    timezone: str = "UTC"
    phrases: Phrases = ENGLISH
    control: CallControl | None = None
    stages: Stages = field(default_factory=Stages)
    policy: Policy | None = None
    http: aiohttp.ClientSession | None = None
    provider: str = "twilio"
    direction: str = "inbound"
    now: Callable[[], datetime] = utcnow
    on_tool_call: Callable[[NewToolCall], None] | None = None
    on_tool_start: Callable[[], None] | None = None


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[ToolResult]]
# Fits a built-in to the assistant listing it (the tool already carries its entry), or refuses it.
Fit = Callable[["Tool", "Assistant", str], "Tool"]
# A tool's parameters in one call, when they depend on it.
CallParameters = Callable[["Tool", ToolContext], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    """One tool an assistant can call, with everything the generic layer needs to know of it.

    A built-in is declared once, in its own module, and registered in ``toolset.BUILTINS``;
    what sets it apart from the others is said here, never by its name elsewhere.

    Parameters:
        name: The function name the LLM calls.
        description: What the LLM reads to decide when to call it.
        parameters: JSON schema (``type: object``) of its arguments.
        run: The implementation.
        config: The ``model.tools`` entry it came from (messages, server, destinations).
        builtin: Whether it runs here rather than on a webhook.
        speaks_for_itself: It says its own line (a goodbye, a transfer announcement),
            so no filler is said while it runs.
        vapi_type: The VAPI tool type that means this tool (``endCall``, ``transferCall``):
            read from assistant files, and given back to VAPI for its calls.
        fit: Adjusts the tool to the assistant that lists it (e.g. its transfer
            destinations), or raises ``ToolsetError``; None: used as declared.
        call_parameters: Its parameters in one call, when they depend on the call (e.g.
            the configured pipeline stages); None: ``parameters``.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: Handler
    config: ToolConfig | None = None
    builtin: bool = True
    speaks_for_itself: bool = False
    vapi_type: str | None = None
    fit: Fit | None = None
    call_parameters: CallParameters | None = None

    def message(self, kind: str) -> str | None:
        """A configured line for ``request-start``, ``request-failed``...; None if none."""
        found = self.config.message(kind) if self.config else None
        return found.content if found else None

    def delay_ms(self) -> int | None:
        """``timingMilliseconds`` of a configured ``request-response-delayed`` message."""
        found = self.config.message("request-response-delayed") if self.config else None
        return found.timing_milliseconds if found else None

    def configured(self, config: ToolConfig | None, assistant: Assistant, path: str) -> Tool:
        """This built-in, set up by an assistant's ``model.tools`` entry at ``path`` (or by none).

        The entry's ``function.description`` replaces ours; ``fit`` then adjusts the rest.

        Raises:
            ToolsetError: The assistant lacks something the tool needs.
        """
        description = config.function.description if config and config.function else ""
        tool = replace(self, config=config, description=description or self.description)
        return tool.fit(tool, assistant, path) if tool.fit else tool

    def parameters_in(self, context: ToolContext) -> dict[str, Any]:
        """The JSON schema of its arguments in the call ``context``."""
        return self.call_parameters(self, context) if self.call_parameters else self.parameters


class ToolArgs(BaseModel):
    """Base of a built-in tool's arguments: what the LLM sends, validated."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def json_schema(args: type[ToolArgs]) -> dict[str, Any]:
    """An arguments model as the flat JSON schema LLMs expect (no titles)."""
    schema = args.model_json_schema()
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        if "anyOf" in prop:  # Optional[X] → X (the LLM may leave it out)
            kinds = [p for p in prop.pop("anyOf") if p.get("type") != "null"]
            prop = {**(kinds[0] if kinds else {}), **prop}
        prop.pop("default", None)
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": schema.get("required", [])}


def parse_args(args: type[ToolArgs], arguments: Mapping[str, Any]) -> Any:
    """Validate what the LLM sent.

    Raises:
        ToolError: Naming each bad argument, so the LLM can correct itself.
    """
    try:
        return args.model_validate(dict(arguments))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in e.errors()
        )
        raise ToolError(f"invalid arguments: {problems}") from None


async def caller_lead(session: AsyncSession, context: ToolContext) -> Lead:
    """The lead this call is with.

    Raises:
        ToolError: The caller's number is unknown (anonymous), so there is no lead.
    """
    lead = await session.get(Lead, context.lead_id) if context.lead_id else None
    if lead is None:
        raise ToolError("the caller's number is unknown, so there is no lead record for this call")
    return lead
