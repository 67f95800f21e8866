"""The dialer's claims: due contacts claimed within the caps, numbers locked, contacts released.

Every step is one short transaction that any number of dialer instances may run at
once against the same database: contacts are claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (on SQLite the campaign row is written first, which takes the database's
single write lock for the whole claim), and a number is dialled only by whoever inserted
its :class:`DialLock` row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents import available_agents
from crm.db import Database
from crm.models import Call, Campaign, CampaignContact, DialLock, Lead, Task
from crm.outbound.call_permission import FINAL_REFUSALS, refusal
from crm.outbound.campaigns import lock_campaign, spec_of

FINAL_CALL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})
# A claimed contact whose call never got a provider id after this long was never placed.
PLACE_LEASE = timedelta(minutes=5)
# A dial lock outlives any call; a crashed dialer's locks expire.
LOCK_TTL = timedelta(hours=3)


@dataclass(frozen=True)
class Claimed:
    """A contact this dialer instance now owns, about to be dialled."""

    contact_id: str
    campaign_id: str
    lead_id: str
    phone: str
    zones: tuple[str, ...]
    attempt: int
    task_id: str | None


def _day_start(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def capacity(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """How many more calls the campaign may start now (concurrency and daily caps).

    A campaign paced to a queue (``limits.pacedToQueue``) also has no more calls in flight
    than the queue has agents available: each call may end in a transfer to one of them.
    """
    limits = spec_of(campaign).limits
    in_flight = (
        await session.scalar(
            select(func.count()).where(
                CampaignContact.campaign_id == campaign.id, CampaignContact.status == "calling"
            )
        )
        or 0
    )
    room = limits.max_concurrent - in_flight
    if limits.paced_to_queue is not None:
        agents = await available_agents(session, limits.paced_to_queue)
        room = min(room, len(agents) - in_flight)
    if limits.max_calls_per_day is not None:
        # Calls opened today, plus claimed contacts whose call row is not opened yet.
        calls_today = (
            await session.scalar(
                select(func.count()).where(
                    Call.campaign_id == campaign.id,
                    Call.created_at >= _day_start(now, campaign.timezone),
                )
            )
            or 0
        )
        about_to_dial = (
            await session.scalar(
                select(func.count()).where(
                    CampaignContact.campaign_id == campaign.id,
                    CampaignContact.status == "calling",
                    CampaignContact.last_call_id.is_(None),
                )
            )
            or 0
        )
        room = min(room, limits.max_calls_per_day - calls_today - about_to_dial)
    return max(0, room)


async def claim_due(
    db: Database, campaign_id: str, holder: str, now: datetime, limit: int | None = None
) -> list[Claimed]:
    """Claim the campaign's due contacts, up to its caps, whose calling window is open now.

    ``limit``: claim no more than this (the lines the dialing server has free). Due
    contacts whose window is closed are moved to their next opening instead.
    """
    async with db.session() as session:
        campaign = await lock_campaign(session, campaign_id)
        if campaign is None or campaign.status != "active":
            return []
        room = await capacity(session, campaign, now)
        if limit is not None:
            room = min(room, max(0, limit))
        if room <= 0:
            return []
        window = spec_of(campaign).window.calling_window()
        query = (
            select(CampaignContact)
            .where(
                CampaignContact.campaign_id == campaign_id,
                CampaignContact.status == "pending",
                CampaignContact.next_attempt_at <= now,
            )
            .order_by(
                CampaignContact.priority.desc(), CampaignContact.next_attempt_at, CampaignContact.id
            )
            .limit(room * 4)
        )
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[Claimed] = []
        for contact in await session.scalars(query):
            zones = tuple(contact.zones or ())
            if len(claimed) < room and window.is_open(now, zones):
                contact.status, contact.claimed_by, contact.claimed_at = "calling", holder, now
                contact.last_call_id = None  # set when this attempt's call row is opened
                contact.attempts += 1
                contact.last_attempt_at = now
                claimed.append(
                    Claimed(
                        contact.id,
                        campaign_id,
                        contact.lead_id,
                        contact.phone,
                        zones,
                        contact.attempts,
                        contact.task_id,
                    )
                )
            elif not window.is_open(now, zones):
                reschedule(contact, window.next_open(now, zones))
        return claimed


def reschedule(contact: CampaignContact, when: datetime | None) -> None:
    if when is None:
        contact.status, contact.reason = "skipped", "no_calling_window"
    else:
        contact.next_attempt_at = when


async def lock_number(db: Database, claimed: Claimed, holder: str, now: datetime) -> bool:
    """Take the number's dial lock; False if it is being dialled (or on a call) elsewhere."""
    async with db.session() as session:
        await session.execute(
            delete(DialLock).where(DialLock.phone == claimed.phone, DialLock.expires_at < now)
        )
    try:
        async with db.session() as session:
            session.add(
                DialLock(
                    phone=claimed.phone,
                    contact_id=claimed.contact_id,
                    holder=holder,
                    expires_at=now + LOCK_TTL,
                )
            )
        return True
    except IntegrityError:
        return False


async def unlock_number(session: AsyncSession, phone: str, contact_id: str) -> None:
    """Drop a number's dial lock held for this contact."""
    await session.execute(
        delete(DialLock).where(DialLock.phone == phone, DialLock.contact_id == contact_id)
    )


async def still_allowed(db: Database, claimed: Claimed, now: datetime) -> str | None:
    """Re-check a claimed contact at the moment of dialing; the reason not to dial, or None.

    The do-not-call list, consent and the window are :func:`call_permission.refusal`, the
    check every path that places a call shares.
    """
    async with db.session() as session:
        campaign = await session.get(Campaign, claimed.campaign_id)
        lead = await session.get(Lead, claimed.lead_id)
        if campaign is None or campaign.status != "active":
            return "campaign_not_active"
        if lead is None:
            return "dnc"
        window = spec_of(campaign).window.calling_window()
        reason = await refusal(session, claimed.phone, lead, window, claimed.zones, now)
        if reason:
            return reason
        on_a_call = await session.scalar(
            select(func.count()).where(
                Call.lead_id == claimed.lead_id,
                Call.ended_at.is_(None),
                Call.status.in_(("ringing", "in-progress")),
            )
        )
        return "busy_with_us" if on_a_call else None


async def release(
    db: Database, claimed: Claimed, reason: str, now: datetime, *, retry_at: datetime | None = None
) -> None:
    """Give a claimed contact back undialled: skipped for DNC or no consent, else pending."""
    async with db.session() as session:
        contact = await session.get(CampaignContact, claimed.contact_id)
        if contact is None:
            return
        await unlock_number(session, claimed.phone, claimed.contact_id)
        contact.claimed_by = contact.claimed_at = None
        if reason in FINAL_REFUSALS:
            contact.status, contact.reason = "skipped", reason
            await close_task(session, contact.task_id, "cancelled", now)
            return
        contact.attempts = max(0, contact.attempts - 1)
        if reason == "campaign_not_active":
            contact.status = "pending"
            return
        campaign = await session.get(Campaign, claimed.campaign_id)
        window = spec_of(campaign).window.calling_window()
        contact.status = "pending"
        reschedule(contact, window.next_open(retry_at or now, claimed.zones))


async def close_task(
    session: AsyncSession, task_id: str | None, status: str, now: datetime
) -> None:
    if task_id:
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=status, completed_at=now)
        )
