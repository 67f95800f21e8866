"""What each dial attempt gave: the call row it opened, and the contact's next step."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Database
from crm.models import Call, Campaign, CampaignContact, Lead
from crm.outbound.campaigns import spec_of
from crm.outbound.dialing import (
    FINAL_CALL_STATUSES,
    PLACE_LEASE,
    Claimed,
    close_task,
    reschedule,
    unlock_number,
)

# A claimed contact stuck this long with a placed call that never reported back is written off.
CALL_LEASE = timedelta(hours=2)


async def open_attempt(
    db: Database,
    claimed: Claimed,
    *,
    from_number: str | None,
    now: datetime,
    provider: str = "twilio",
) -> Call:
    """Create an attempt's outbound call row (dated by the dialer's clock), tied to the contact."""
    async with db.session() as session:
        campaign = await session.get(Campaign, claimed.campaign_id)
        call = Call(
            provider=provider,
            direction="outbound",
            from_number=from_number,
            to_number=claimed.phone,
            assistant=campaign.assistant,
            status="queued",
            lead_id=claimed.lead_id,
            campaign_id=claimed.campaign_id,
            created_at=now,
        )
        session.add(call)
        await session.flush()
        contact = await session.get(CampaignContact, claimed.contact_id)
        contact.last_call_id = call.id
        return call


async def attempt_placed(db: Database, call_id: str, provider_call_id: str) -> None:
    """The provider accepted the call: remember its id (callbacks may already have done so)."""
    async with db.session() as session:
        call = await session.get(Call, call_id)
        if call is not None and not call.provider_call_id:
            call.provider_call_id = provider_call_id


def outcome_of(call: Call) -> str:
    """How an attempt went, in the terms retry delays use."""
    if call.answered_by and call.answered_by.startswith("machine"):
        return "voicemail"
    if call.status in ("no-answer", "busy", "failed"):
        return call.status
    if call.status == "canceled":
        return "failed"
    return "answered" if call.answered_at else "no-answer"


async def call_finished(db: Database, call_id: str, now: datetime) -> None:
    """A campaign call ended: complete the contact, or schedule its next attempt (or give up)."""
    async with db.session() as session:
        call = await session.get(Call, call_id)
        contact = await session.scalar(
            select(CampaignContact).where(CampaignContact.last_call_id == call_id)
        )
        if call is None or contact is None or contact.status != "calling":
            return
        await _settle(session, contact, outcome_of(call), now, call.outcome)


async def _settle(
    session: AsyncSession,
    contact: CampaignContact,
    outcome: str,
    now: datetime,
    call_outcome: str | None = None,
) -> None:
    campaign = await session.get(Campaign, contact.campaign_id)
    spec = spec_of(campaign)
    await unlock_number(session, contact.phone, contact.id)
    contact.claimed_by = None
    contact.last_outcome = call_outcome or outcome
    if outcome == "answered":
        contact.status = "completed"
        lead = await session.get(Lead, contact.lead_id)
        if lead is not None:
            lead.last_contacted_at = now
        await close_task(session, contact.task_id, "done", now)
        return
    if contact.attempts >= spec.limits.max_attempts:
        contact.status, contact.reason = "failed", "max_attempts"
        await close_task(session, contact.task_id, "failed", now)
        return
    delay = timedelta(minutes=spec.limits.retry_minutes.get(outcome, 60))
    contact.status = "pending"
    reschedule(
        contact, spec.window.calling_window().next_open(now + delay, tuple(contact.zones or ()))
    )


async def attempt_not_placed(
    db: Database, claimed: Claimed, call_id: str, error: str, *, invalid_number: bool, now: datetime
) -> None:
    """The provider refused the call: a bad number is skipped, anything else retried as failed."""
    async with db.session() as session:
        call = await session.get(Call, call_id)
        if call is not None:
            call.status, call.ended_at, call.end_reason = "failed", now, f"dial-error: {error}"[:48]
        contact = await session.get(CampaignContact, claimed.contact_id)
        if contact is None:
            return
        if invalid_number:
            await unlock_number(session, contact.phone, contact.id)
            contact.status, contact.reason = "skipped", "invalid_number"
            await close_task(session, contact.task_id, "cancelled", now)
            return
        await _settle(session, contact, "failed", now)


async def recover(db: Database, now: datetime) -> int:
    """Resolve contacts a crashed (or unlucky) dialer left 'calling'; returns how many."""
    fixed = 0
    async with db.session() as session:
        stale = await session.scalars(
            select(CampaignContact).where(
                CampaignContact.status == "calling", CampaignContact.claimed_at < now - PLACE_LEASE
            )
        )
        for contact in list(stale):
            call = await session.get(Call, contact.last_call_id) if contact.last_call_id else None
            if call is None or (not call.provider_call_id and call.status == "queued"):
                # Never placed: the dialer died between claiming and dialing.
                if call is not None:
                    call.status, call.ended_at, call.end_reason = "failed", now, "dialer-crashed"
                await unlock_number(session, contact.phone, contact.id)
                contact.status, contact.claimed_by = "pending", None
                contact.attempts = max(0, contact.attempts - 1)
                contact.next_attempt_at = now
            elif call.status in FINAL_CALL_STATUSES or call.ended_at is not None:
                await _settle(session, contact, outcome_of(call), now, call.outcome)
            elif contact.claimed_at < now - CALL_LEASE:
                await _settle(session, contact, "failed", now)
            else:
                continue
            fixed += 1
    return fixed
