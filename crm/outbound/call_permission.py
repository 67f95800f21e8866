"""Whether a person may be called now: the one check every path that places a call goes through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.followups import is_do_not_call
from crm.models import DoNotCall, Lead
from crm.outbound.calling_windows import CallingWindow

# Why a call may not be placed (the campaign contact's skip reason, the CLI's message).
REFUSALS = {
    "dnc": "the number is on the do-not-call list",
    "no_consent": "the lead refused calls (consentCalls: false)",
    "window": "outside the calling window in the callee's time zone",
}
# Reasons that never change by waiting: the contact is skipped, not retried.
FINAL_REFUSALS = frozenset({"dnc", "no_consent"})


def callable_leads():
    """SQL conditions on :class:`Lead` for leads that may be called at all (enrollment)."""
    return (
        Lead.do_not_call.is_(False),
        or_(Lead.consent_calls.is_(None), Lead.consent_calls.is_(True)),
        ~Lead.phone.in_(select(DoNotCall.phone)),
    )


async def refusal(
    session: AsyncSession,
    phone: str,
    lead: Lead | None,
    window: CallingWindow,
    zones: tuple[str, ...],
    now: datetime,
) -> str | None:
    """Why ``phone`` may not be called at ``now``, as a key of :data:`REFUSALS`, or None.

    Args:
        session: An open session (the do-not-call list is read through it).
        phone: The number to call (E.164).
        lead: The lead behind the number, if known.
        window: The calling hours that apply (a campaign's, or the default ones).
        zones: The callee's time zones (see :func:`crm.outbound.calling_windows.lead_zones`).
        now: The moment of dialing.
    """
    if (lead is not None and lead.do_not_call) or await is_do_not_call(session, phone):
        return "dnc"
    if lead is not None and lead.consent_calls is False:
        return "no_consent"
    if not window.is_open(now, zones):
        return "window"
    return None
