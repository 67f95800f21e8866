"""Opening a call a carrier announces: the assistant of our number, the lead of theirs, the row."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from loguru import logger

from agent.assistant_files import LoadedAssistant
from crm.calls import NewCall
from crm.db import is_outage
from crm.models import Call
from crm.phone_numbers import maybe_e164
from telephony.dependencies import CallDependencies

# How long opening a call may wait for the database before the call is answered without
# it (a carrier's webhook times out: Twilio's after 15 s).
OPEN_WAIT_SECS = 4.0


async def open_call(deps: CallDependencies, new: NewCall) -> tuple[Call, LoadedAssistant]:
    """Open (or, for a retried webhook, find) the call's row, with its assistant and lead.

    Args:
        deps: What every call shares.
        new: The call as the carrier tells it; the assistant (the one our number
            routes to, unless the carrier names one, as the browser's Talk does) and
            the lead (found or created from the other party's number) are filled in here.

    If the database does not answer within ``OPEN_WAIT_SECS``, the call is answered
    anyway: its row is made in memory (kept in ``deps.offline_calls``) and written by
    the call's journal once the database is back.

    Returns:
        The call row and the assistant it runs with (which may be unavailable).
    """
    inbound = new.direction == "inbound"
    ours, theirs = (new.to_number, new.from_number) if inbound else (new.from_number, new.to_number)
    if new.assistant:
        entry = deps.assistants.entry(new.assistant)
    else:
        entry = deps.assistants.entry_for_number(maybe_e164(ours))
    new = replace(new, assistant=entry.assistant.name)
    contact = maybe_e164(theirs)
    try:
        async with asyncio.timeout(OPEN_WAIT_SECS):
            lead = (
                await deps.leads.get_or_create(contact, source=f"{new.direction}-call")
                if contact
                else None
            )
            call = await deps.calls.open(
                replace(new, lead_id=lead.id if lead else None), lease=deps.new_lease()
            )
    except Exception as e:
        if not is_outage(e):
            raise
        call = deps.calls.unsaved(new)
        deps.offline_call(call.id, new)
        logger.warning(
            f"call {call.id}: database unavailable ({e.__class__.__name__}); answering "
            "anyway, the call is written once it is back"
        )
    return call, entry
