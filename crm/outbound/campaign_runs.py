"""Campaigns over time: starting and ending on schedule, and leads entering by themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Database
from crm.models import Campaign, CampaignContact, Lead, Task
from crm.outbound.breaker import resume_due
from crm.outbound.campaign_spec import Audience
from crm.outbound.campaigns import (
    audience_query,
    enroll,
    enroll_audience,
    lock_campaign,
    spec_of,
    with_tags,
)

RECURRENCE = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
TERMINAL = ("completed", "failed")
# New leads of a speed-to-lead trigger are dialled before any other contact (scores are 0-100).
NEW_LEAD_PRIORITY = 1000


async def advance_schedules(db: Database, now: datetime) -> None:
    """Start scheduled campaigns whose time has come, resume those whose breaker cooled down,
    and complete those past their end."""
    async with db.session() as session:
        for campaign in await session.scalars(
            select(Campaign).where(Campaign.status.in_(("scheduled", "active", "paused")))
        ):
            if resume_due(campaign, now):
                continue
            if campaign.status == "scheduled" and (
                campaign.starts_at is None or campaign.starts_at <= now
            ):
                campaign.status = "active"
                campaign.started_at = campaign.started_at or now
            elif campaign.ends_at is not None and campaign.ends_at <= now:
                campaign.status, campaign.completed_at = "completed", now
            elif campaign.status == "active" and await _finished(session, campaign):
                campaign.status, campaign.completed_at = "completed", now


async def _finished(session: AsyncSession, campaign: Campaign) -> bool:
    """A one-off campaign with no triggers is done once every contact is settled."""
    spec = spec_of(campaign)
    if campaign.audience_enrolled_at is None or spec.schedule.recurrence != "none":
        return False
    triggers = spec.triggers
    if triggers.new_lead_within_minutes or triggers.callbacks or triggers.rules:
        return False
    open_contact = await session.scalar(
        select(CampaignContact.id)
        .where(
            CampaignContact.campaign_id == campaign.id,
            CampaignContact.status.in_(("pending", "calling")),
        )
        .limit(1)
    )
    return open_contact is None


async def enroll_due(db: Database, now: datetime) -> int:
    """Enroll audiences (once, or every period), new leads and due callbacks; returns how many.

    Each campaign is enrolled in its own transaction with the campaign locked, so dialer
    instances running this at once never enroll a lead twice.
    """
    added = 0
    async with db.session() as session:
        ids = list(
            await session.scalars(
                select(Campaign.id).where(Campaign.status == "active").order_by(Campaign.created_at)
            )
        )
    callbacks_taken = False
    for campaign_id in ids:
        async with db.session() as session:
            campaign = await lock_campaign(session, campaign_id)
            if campaign is None or campaign.status != "active":
                continue
            spec = spec_of(campaign)
            period = RECURRENCE.get(spec.schedule.recurrence)
            due = campaign.audience_enrolled_at is None or (
                period is not None and campaign.audience_enrolled_at + period <= now
            )
            if due:
                if campaign.audience_enrolled_at is not None:
                    added += await _rearm(session, campaign, now)
                added += await enroll_audience(session, campaign, now)
                campaign.audience_enrolled_at = now
            if spec.triggers.new_lead_within_minutes:
                added += await _enroll_new_leads(session, campaign, now)
            if spec.triggers.callbacks and not callbacks_taken:
                added += await _enroll_callbacks(session, campaign, now)
                callbacks_taken = True
    return added


async def _rearm(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """A new period: settled contacts (not skipped ones) are dialled again."""
    contacts = list(
        await session.scalars(
            select(CampaignContact).where(
                CampaignContact.campaign_id == campaign.id, CampaignContact.status.in_(TERMINAL)
            )
        )
    )
    for contact in contacts:
        contact.status, contact.reason, contact.attempts, contact.next_attempt_at = (
            "pending",
            None,
            0,
            now,
        )
    return len(contacts)


async def _enroll_new_leads(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Leads created in the last ``newLeadWithinMinutes`` that the audience (if any) selects.

    They go to the head of the queue (:data:`NEW_LEAD_PRIORITY`) so that a backlog of
    other contacts never holds them past their minutes; a lead first seen later than that
    (the campaign was paused, the dialer down) is no longer new and is left to the audience.
    """
    spec = spec_of(campaign)
    minutes = spec.triggers.new_lead_within_minutes
    assert minutes is not None
    since = max(campaign.started_at or now, now - timedelta(minutes=minutes))
    query = audience_query(campaign, spec.audience or Audience(), now).where(
        Lead.created_at >= since
    )
    leads = with_tags(await session.scalars(query), spec.audience or Audience())
    for lead in leads:
        enroll(
            session, campaign, spec, lead, max(lead.created_at, since), priority=NEW_LEAD_PRIORITY
        )
    return len(leads)


async def _enroll_callbacks(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Open callbacks due now become contacts due at their time (a settled contact is re-armed)."""
    spec = spec_of(campaign)
    tasks = list(
        await session.scalars(
            select(Task).where(
                Task.kind == "callback",
                Task.status == "open",
                Task.due_at <= now,
                Task.lead_id.is_not(None),
            )
        )
    )
    for task in tasks:
        lead = await session.get(Lead, task.lead_id)
        if lead is None or lead.do_not_call or lead.consent_calls is False:
            task.status = "cancelled"
            continue
        contact = await session.scalar(
            select(CampaignContact).where(
                CampaignContact.campaign_id == campaign.id, CampaignContact.lead_id == lead.id
            )
        )
        if contact is None:
            enroll(session, campaign, spec, lead, task.due_at, task_id=task.id)
        elif contact.status == "calling":
            continue  # being called right now; the callback waits for the next tick
        else:
            contact.status, contact.reason, contact.attempts = "pending", None, 0
            contact.next_attempt_at, contact.task_id = task.due_at, task.id
        task.status = "dialing"
    return len(tasks)
