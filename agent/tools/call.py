"""Built-in tools that act on the live call: end it, opt out, transfer to a person."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from loguru import logger
from pydantic import Field

from agent.tool_config import TransferDestination
from agent.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    ToolsetError,
    TransferBrief,
    TransferFailed,
    caller_lead,
    json_schema,
    parse_args,
)
from crm.followups import add_note, create_task, mark_do_not_call
from crm.models import Call
from crm.rules.changes import HandOff

if TYPE_CHECKING:
    from agent.assistant import Assistant


def _control(context: ToolContext):
    if context.control is None:
        raise ToolError("there is no live call to act on")
    return context.control


class EndCallArgs(ToolArgs):
    """Why the call ends."""

    reason: str | None = Field(
        None, max_length=500, description="Why the call is over, in a few words"
    )


async def end_call(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Hang up once what is being said has played; says ``endCallMessage`` first when set."""
    control = _control(context)
    tool = context.tools.get("end_call")
    already_said = bool(tool and tool.message("request-start"))
    goodbye = None if already_said else (context.assistant.end_call_message or None)
    await control.hang_up("assistant-hangup", goodbye)
    return ToolResult(value="The call is ending.", run_llm=False)


class OptOutArgs(ToolArgs):
    """Why the caller opts out."""

    reason: str | None = Field(
        None, max_length=500, description="What the caller said, in a few words"
    )


async def opt_out(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Put the caller on the do-not-call list, confirm it and end the call politely."""
    args: OptOutArgs = parse_args(OptOutArgs, arguments)
    if not context.phone:
        raise ToolError(
            "the caller's number is unknown, so it cannot be put on the do-not-call list"
        )
    async with context.db.session() as session:
        lead = await caller_lead(session, context) if context.lead_id else None
        await mark_do_not_call(
            session,
            context.phone,
            reason=args.reason or "asked during a call",
            source="assistant",
            lead=lead,
        )
        if lead is not None:
            await add_note(
                session,
                lead.id,
                f"Opted out of calls: {args.reason or 'asked not to be called'}",
                author="assistant",
                call_id=context.call_id,
            )
    if context.control is not None:
        goodbye = (
            context.tools["opt_out"].message("request-complete")
            if "opt_out" in context.tools
            else None
        )
        await context.control.hang_up("opted-out", goodbye or context.phrases.opt_out)
    return ToolResult(
        value="The caller is on the do-not-call list; the call is ending.",
        run_llm=False,
        spoke=True,
    )


def destinations_of(context: ToolContext) -> list[TransferDestination]:
    """Where transfers may go: the ``transferCall`` destinations, else ``forwardingPhoneNumber``."""
    tool = context.tools.get("transfer_to_human")
    if tool and tool.config and tool.config.destinations:
        return list(tool.config.destinations)
    number = context.assistant.forwarding_phone_number
    return [TransferDestination(type="number", number=number)] if number else []


class TransferArgs(ToolArgs):
    """Why the caller needs a person, and what that person should know."""

    reason: str = Field(min_length=1, max_length=500, description="Why the caller needs a person")
    summary: str = Field(
        min_length=1,
        max_length=2000,
        description="Two or three sentences for the colleague: who, what, where things stand",
    )
    destination: str | None = Field(None, description="Which destination, when there are several")


def _pick(destinations: list[TransferDestination], wanted: str | None) -> TransferDestination:
    if not destinations:
        raise ToolError("no transfer destination is configured for this assistant")
    if wanted:
        for d in destinations:
            if wanted in (d.target, d.description, d.queue):
                return d
    return destinations[0]


async def _note_for_colleague(context: ToolContext, args: TransferArgs, target: str) -> None:
    """The colleague finds the reason and summary on the lead when they pick up."""
    if not context.lead_id:
        return
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        await add_note(
            session,
            lead.id,
            f"Transfer to {target}: {args.reason}. {args.summary}",
            author="assistant",
            call_id=context.call_id,
        )


async def _transferred(context: ToolContext, target: str) -> None:
    if context.call_id is None:
        return
    async with context.db.session() as session:
        call = await session.get(Call, context.call_id)
        if call is not None:
            call.transfer_target = target


async def transfer_to_human(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """Say a line, then move the live call to a person; if that fails, say so, offer a callback."""
    args: TransferArgs = parse_args(TransferArgs, arguments)
    control = _control(context)
    destination = _pick(destinations_of(context), args.destination)
    await _note_for_colleague(context, args, destination.target)
    try:
        await control.transfer(
            destination,
            destination.message or context.phrases.transfer,
            TransferBrief(args.reason, args.summary),
        )
    except TransferFailed as e:
        tool = context.tools.get("transfer_to_human")
        await control.say(
            (tool.message("request-failed") if tool else None) or context.phrases.transfer_failed
        )
        return ToolResult(
            value=(
                "The transfer failed. You told the caller and asked whether they want a callback; "
                "if they say yes, ask when and use schedule_callback."
            ),
            ok=False,
            error=f"transfer failed: {e}",
            run_llm=False,
            spoke=True,
        )
    await _transferred(context, destination.target)
    return ToolResult(value=f"The call was transferred to {destination.target}.", run_llm=False)


async def hand_off(context: ToolContext, request: HandOff, saved: str) -> ToolResult:
    """A rule's live transfer: the caller goes to a person now, else a person calls back now."""
    destinations = destinations_of(context)
    if context.control is not None and destinations:
        destination = destinations[0]
        args = TransferArgs(reason=request.reason, summary=request.reason)
        await _note_for_colleague(context, args, destination.target)
        try:
            await context.control.transfer(
                destination, destination.message or context.phrases.transfer
            )
        except TransferFailed as e:
            logger.warning(f"call {context.call_id}: the rule's transfer failed: {e}")
        else:
            await _transferred(context, destination.target)
            return ToolResult(
                value=f"{saved} A rule transferred the call to {destination.target}.",
                run_llm=False,
            )
    async with context.db.session() as session:
        lead = await caller_lead(session, context)
        await create_task(
            session,
            kind="task",
            title=request.title,
            lead_id=lead.id,
            due_at=context.now(),
            reason=request.reason,
            created_by="rule",
            call_id=context.call_id,
            assigned_to=request.assigned_to,
        )
    return ToolResult(value=f"{saved} A colleague will call the caller back shortly.")


def transfer_parameters(destinations: list[TransferDestination]) -> dict[str, Any]:
    """``transfer_to_human``'s schema, with a ``destination`` choice when there are several."""
    schema = json_schema(TransferArgs)
    properties = dict(schema["properties"])
    if len(destinations) > 1:
        choices = [d.description or d.target for d in destinations]
        properties["destination"] = {**properties["destination"], "enum": choices}
    else:
        properties.pop("destination")
    return {**schema, "properties": properties}


def _with_destinations(tool: Tool, assistant: Assistant, path: str) -> Tool:
    """``transfer_to_human`` needs somewhere to send the caller; with several, the LLM picks."""
    destinations = list(tool.config.destinations) if tool.config else []
    if not destinations and not assistant.forwarding_phone_number:
        raise ToolsetError(
            f"{path}: transfer_to_human needs a destination: set forwardingPhoneNumber, or use "
            '{"type": "transferCall", "destinations": [{"type": "number", "number": "+1..."}]}'
        )
    return replace(tool, parameters=transfer_parameters(destinations))


CALL_TOOLS = [
    Tool(
        "end_call",
        "End the call. Use it when the conversation is over: the caller said goodbye or has "
        "nothing else. Say your goodbye first.",
        json_schema(EndCallArgs),
        end_call,
        speaks_for_itself=True,
        vapi_type="endCall",
    ),
    Tool(
        "opt_out",
        "The caller asks not to be called again: put them on the do-not-call list. This confirms "
        "it to the caller and ends the call.",
        json_schema(OptOutArgs),
        opt_out,
        speaks_for_itself=True,
    ),
    Tool(
        "transfer_to_human",
        "Transfer the caller to a person on our team (when they ask for one, or the conversation "
        "needs one). Give the reason and a short summary for the colleague.",
        json_schema(TransferArgs),
        transfer_to_human,
        speaks_for_itself=True,
        vapi_type="transferCall",
        fit=_with_destinations,
    ),
]
