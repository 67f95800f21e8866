"""Campaigns: stored specs, their states, who is enrolled, and how far they have got."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Database
from crm.models import Call, Campaign, CampaignContact, Lead, utcnow
from crm.outbound.call_permission import callable_leads
from crm.outbound.calling_windows import lead_zones
from crm.outbound.campaign_spec import Audience, CampaignSpec

# Which state changes the API allows: action -> (states it applies to, the new state).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"draft", "scheduled", "paused"}), "active"),
    "schedule": (frozenset({"draft"}), "scheduled"),
    "pause": (frozenset({"active", "scheduled"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "stop": (frozenset({"draft", "scheduled", "active", "paused"}), "completed"),
    "archive": (frozenset({"completed", "draft"}), "archived"),
}
CONVERTED_OUTCOMES = frozenset({"converted"})


class CampaignStateError(ValueError):
    """A state change that does not apply to the campaign's current state."""


def spec_of(campaign: Campaign) -> CampaignSpec:
    """The campaign's definition, as stored."""
    return CampaignSpec.model_validate(
        {**campaign.config, "name": campaign.name, "status": "draft"}
        | {"description": campaign.description}
    )


def apply_spec(campaign: Campaign, spec: CampaignSpec) -> None:
    """Write a definition onto a campaign row (the state is not changed here)."""
    campaign.name = spec.name
    campaign.description = spec.description
    campaign.type = spec.type
    campaign.assistant = spec.assistant
    campaign.provider = spec.provider
    campaign.from_number = spec.from_number
    campaign.timezone = spec.timezone
    campaign.starts_at = spec.schedule.starts_at
    campaign.ends_at = spec.schedule.ends_at
    campaign.config = spec.model_dump(
        mode="json", by_alias=True, exclude={"name", "description", "status"}
    )


def change_state(campaign: Campaign, action: str, now: datetime) -> None:
    """Start, schedule, pause, resume, stop or archive a campaign.

    Raises:
        CampaignStateError: The action does not apply to the current state.
    """
    if action not in TRANSITIONS:
        raise CampaignStateError(f"unknown action {action!r}; actions are {', '.join(TRANSITIONS)}")
    allowed, new_state = TRANSITIONS[action]
    if campaign.status not in allowed:
        raise CampaignStateError(f"cannot {action} a campaign that is {campaign.status}")
    campaign.status = new_state
    if new_state != "paused":  # a person's decision replaces the breaker's
        campaign.pause_reason = campaign.resume_at = None
    if new_state == "active" and campaign.started_at is None:
        campaign.started_at = now
    if new_state == "completed":
        campaign.completed_at = now


def audience_query(campaign: Campaign, audience: Audience, now: datetime):
    """Leads the audience selects that may be called and are not enrolled yet (tags aside)."""
    query = select(Lead).where(
        *callable_leads(),
        ~Lead.id.in_(
            select(CampaignContact.lead_id).where(CampaignContact.campaign_id == campaign.id)
        ),
    )
    if audience.stages:
        query = query.where(Lead.stage.in_(audience.stages))
    if audience.min_score is not None:
        query = query.where(Lead.score >= audience.min_score)
    if audience.max_score is not None:
        query = query.where(Lead.score <= audience.max_score)
    if audience.source:
        query = query.where(Lead.source == audience.source)
    if audience.created_since:
        query = query.where(Lead.created_at >= audience.created_since)
    if audience.inactive_days:
        cutoff = now - timedelta(days=audience.inactive_days)
        query = query.where(or_(Lead.last_contacted_at.is_(None), Lead.last_contacted_at < cutoff))
    return query


async def enroll_audience(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Enroll every lead the audience selects that is not enrolled yet; returns how many."""
    spec = spec_of(campaign)
    if spec.audience is None:
        return 0
    leads = with_tags(
        await session.scalars(audience_query(campaign, spec.audience, now)), spec.audience
    )
    for lead in leads:
        enroll(session, campaign, spec, lead, now)
    return len(leads)


def with_tags(leads: Iterable[Lead], audience: Audience) -> list[Lead]:
    """The leads that carry any of the audience's tags (all of them when it names none)."""
    wanted = set(audience.tags)
    return [lead for lead in leads if not wanted or wanted & set(lead.tags or [])]


def enroll(
    session: AsyncSession,
    campaign: Campaign,
    spec: CampaignSpec,
    lead: Lead,
    due_at: datetime,
    task_id: str | None = None,
    priority: int | None = None,
) -> CampaignContact:
    """Add one lead to a campaign, with the time zones its calling window follows.

    ``priority`` overrides the lead's place in the queue (default: its score when the
    campaign has ``priorityByScore``, else 0).
    """
    contact = CampaignContact(
        campaign_id=campaign.id,
        lead_id=lead.id,
        phone=lead.phone,
        zones=list(lead_zones(lead.timezone, lead.phone, campaign.timezone)),
        priority=priority
        if priority is not None
        else (lead.score if spec.priority_by_score else 0),
        next_attempt_at=due_at,
        task_id=task_id,
    )
    session.add(contact)
    return contact


@dataclass
class Progress:
    """Where a campaign stands."""

    contacts: dict[str, int]
    skipped: dict[str, int]
    failed: dict[str, int]
    calls_made: int
    answered: int
    conversions: int
    cost: float

    def as_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {
            "contacts": self.contacts,
            "skippedReasons": self.skipped,
            "failedReasons": self.failed,
            "callsMade": self.calls_made,
            "answered": self.answered,
            "conversions": self.conversions,
            "conversionRate": round(self.conversions / self.answered, 4) if self.answered else 0.0,
            "cost": round(self.cost, 4),
        }


async def progress(db: Database, campaign_id: str) -> Progress:
    """Counts by contact state and reason, calls, answers, conversions and cost."""
    async with db.session() as session:
        by_state = dict(
            (
                await session.execute(
                    select(CampaignContact.status, func.count())
                    .where(CampaignContact.campaign_id == campaign_id)
                    .group_by(CampaignContact.status)
                )
            ).all()
        )
        reasons = (
            await session.execute(
                select(CampaignContact.status, CampaignContact.reason, func.count())
                .where(
                    CampaignContact.campaign_id == campaign_id, CampaignContact.reason.is_not(None)
                )
                .group_by(CampaignContact.status, CampaignContact.reason)
            )
        ).all()
        calls = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(
                        Call.answered_at.is_not(None),
                        or_(Call.answered_by.is_(None), ~Call.answered_by.like("machine%")),
                    ),
                    func.count().filter(Call.outcome.in_(CONVERTED_OUTCOMES)),
                    func.coalesce(func.sum(Call.cost), 0.0),
                ).where(Call.campaign_id == campaign_id)
            )
        ).one()
    states = ("pending", "calling", "completed", "failed", "skipped")
    return Progress(
        contacts={state: by_state.get(state, 0) for state in states},
        skipped={reason: n for status, reason, n in reasons if status == "skipped"},
        failed={reason: n for status, reason, n in reasons if status == "failed"},
        calls_made=calls[0],
        answered=calls[1],
        conversions=calls[2],
        cost=float(calls[3]),
    )


async def lock_campaign(session: AsyncSession, campaign_id: str) -> Campaign | None:
    """Load a campaign for change, so dialer instances take turns on it until the transaction ends.

    PostgreSQL locks the row (``SELECT ... FOR UPDATE``). SQLite cannot lock a row: the
    campaign is written first, which takes the database's single write lock before
    anything else is read.
    """
    if session.bind.dialect.name == "postgresql":
        return await session.scalar(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        )
    campaign = await session.get(Campaign, campaign_id)
    if campaign is not None:
        campaign.dialer_lock_at = utcnow()
        await session.flush()
    return campaign


async def sync_campaign_files(db: Database, specs: list[CampaignSpec]) -> None:
    """Create the campaigns files define; update existing ones' definitions (not their state)."""
    async with db.session() as session:
        for spec in specs:
            campaign = await session.scalar(select(Campaign).where(Campaign.name == spec.name))
            if campaign is None:
                campaign = Campaign(status=spec.status)
                session.add(campaign)
            apply_spec(campaign, spec)
