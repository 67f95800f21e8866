"""Opening a call a carrier announces: the assistant of our number, the lead of theirs, the row."""

from __future__ import annotations

from dataclasses import replace

from agent.assistant_files import LoadedAssistant
from crm.calls import NewCall
from crm.models import Call
from crm.phone_numbers import maybe_e164
from telephony.dependencies import CallDependencies


async def open_call(deps: CallDependencies, new: NewCall) -> tuple[Call, LoadedAssistant]:
    """Open (or, for a retried webhook, find) the call's row, with its assistant and lead.

    Args:
        deps: What every call shares.
        new: The call as the carrier tells it; the assistant (the one our number
            routes to, unless the carrier names one, as the browser's Talk does) and
            the lead (found or created from the other party's number) are filled in here.

    Returns:
        The call row and the assistant it runs with (which may be unavailable).
    """
    inbound = new.direction == "inbound"
    ours, theirs = (new.to_number, new.from_number) if inbound else (new.from_number, new.to_number)
    if new.assistant:
        entry = deps.assistants.entry(new.assistant)
    else:
        entry = deps.assistants.entry_for_number(maybe_e164(ours))
    contact = maybe_e164(theirs)
    lead = (
        await deps.leads.get_or_create(contact, source=f"{new.direction}-call") if contact else None
    )
    call = await deps.calls.open(
        replace(new, assistant=entry.assistant.name, lead_id=lead.id if lead else None)
    )
    return call, entry
