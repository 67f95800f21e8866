"""A call that finds every line busy: a polite message and a callback, a transfer, or VAPI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from loguru import logger
from sqlalchemy import select

from agent.assistant import Assistant
from agent.assistant_files import LoadedAssistant
from agent.overflow_plan import OverflowAction
from agent.phrases import phrases_for
from agent.tool_config import TransferDestination
from crm.db import Database
from crm.followups import create_task, is_do_not_call
from crm.models import Call, Lead, Task, utcnow

if TYPE_CHECKING:
    from config import Settings

# How a call that overflowed ends, by what it got (``calls.end_reason``).
END_REASONS: dict[str, str] = {
    "callback": "overflow-callback",
    "transfer": "overflow-transfer",
    "vapi": "overflow-vapi",
    "busy": "overflow-busy",
}


class Handover(Protocol):
    """Another provider that takes a Twilio call we have no line for (VAPI)."""

    async def twiml(self, call: Call, entry: LoadedAssistant) -> str:
        """The TwiML that hands ``call`` over, running ``entry``'s assistant there.

        Raises:
            Exception: The provider refused or could not be reached (the call then
                gets the callback message).
        """
        ...


@dataclass(frozen=True)
class OverflowDefaults:
    """The server's overflow settings, for assistants whose ``overflowPlan`` leaves them out."""

    action: OverflowAction = "callback"
    transfer_number: str = ""
    callback_minutes: float = 15.0

    @classmethod
    def for_server(cls, settings: Settings) -> OverflowDefaults:
        """OVERFLOW_ACTION, OVERFLOW_TRANSFER_NUMBER, OVERFLOW_CALLBACK_MINUTES."""
        return cls(
            action=settings.overflow_action,  # type: ignore[arg-type]
            transfer_number=settings.overflow_transfer_number,
            callback_minutes=settings.overflow_callback_minutes,
        )


@dataclass(frozen=True)
class Overflow:
    """What one call that overflowed gets.

    Parameters:
        action: ``callback``, ``transfer`` or ``vapi``.
        message: The callback line the caller hears.
        no_callback_message: What a caller we cannot call back hears (anonymous, do-not-call).
        callback_delay: When the callback task is due, from now.
        destination: Where a ``transfer`` goes.
    """

    action: OverflowAction
    message: str
    no_callback_message: str
    callback_delay: timedelta
    destination: TransferDestination | None = None


class Overflows:
    """This server's overflow answers: the defaults, and the VAPI handover when configured."""

    def __init__(self, defaults: OverflowDefaults, handover: Handover | None = None):
        """``handover``: VAPI, when VAPI_API_KEY is set (else ``vapi`` falls back to callback)."""
        self.defaults = defaults
        self.handover = handover

    def plan(self, assistant: Assistant) -> Overflow:
        """The assistant's ``overflowPlan`` over the server's settings.

        A transfer with no number, or VAPI with no VAPI account, falls back to the
        callback (logged): the caller always hears something.
        """
        plan, defaults = assistant.overflow_plan, self.defaults
        action = plan.action or defaults.action
        destination = plan.destination or (
            TransferDestination(number=defaults.transfer_number)
            if defaults.transfer_number
            else None
        )
        if action == "transfer" and destination is None:
            logger.warning(
                f"assistant '{assistant.name}': overflow transfer without a number "
                "(overflowPlan.destination or OVERFLOW_TRANSFER_NUMBER); a callback instead"
            )
            action = "callback"
        if action == "vapi" and self.handover is None:
            logger.warning(
                f"assistant '{assistant.name}': overflow to VAPI without VAPI_API_KEY; "
                "a callback instead"
            )
            action = "callback"
        minutes = plan.callback_delay_minutes
        delay = defaults.callback_minutes if minutes is None else minutes
        phrases = phrases_for(assistant.language)
        return Overflow(
            action,
            plan.message or phrases.lines_busy,
            plan.message or phrases.lines_busy_later,
            timedelta(minutes=delay),
            destination,
        )


async def schedule_callback(db: Database, call: Call, delay: timedelta) -> Task | None:
    """A callback task for the caller who found every line busy (one open one per caller).

    None when there is no one to call back: an anonymous caller, or one on do-not-call.
    """
    if call.lead_id is None:
        return None
    async with db.session() as session:
        lead = await session.get(Lead, call.lead_id)
        if lead is None or lead.do_not_call or await is_do_not_call(session, lead.phone):
            return None
        existing = await session.scalar(
            select(Task).where(
                Task.lead_id == lead.id,
                Task.kind == "callback",
                Task.status == "open",
                Task.created_by == "overflow",
            )
        )
        if existing is not None:
            return existing
        return await create_task(
            session,
            kind="callback",
            title=f"Call back {lead.name or lead.phone}",
            lead_id=lead.id,
            due_at=utcnow() + delay,
            reason="called while every line was busy",
            created_by="overflow",
            call_id=call.id,
        )


OVERFLOW = web.AppKey("overflow", Overflows)
