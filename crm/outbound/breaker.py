"""The campaign circuit breaker: a campaign whose recent attempts fail pauses itself, says why."""

from __future__ import annotations

from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import or_, select

from crm.db import Database
from crm.models import Call, Campaign
from crm.outbound.campaigns import lock_campaign, spec_of
from crm.outbound.dialing import FINAL_CALL_STATUSES
from crm.webhooks import payloads
from crm.webhooks.outbox import WebhookSettings, enqueue


def _answered(call: Call) -> bool:
    return call.answered_at is not None and not (call.answered_by or "").startswith("machine")


async def why_trip(db: Database, campaign: Campaign) -> str | None:
    """Why the campaign's recent attempts say it must pause, or None.

    Only attempts since the breaker last tripped count, so a resumed campaign starts afresh.
    """
    breaker = spec_of(campaign).breaker
    if not breaker.enabled:
        return None
    query = select(Call).where(
        Call.campaign_id == campaign.id,
        or_(Call.status.in_(FINAL_CALL_STATUSES), Call.ended_at.is_not(None)),
    )
    if campaign.breaker_tripped_at is not None:
        query = query.where(Call.created_at > campaign.breaker_tripped_at)
    async with db.session() as session:
        recent = list(
            await session.scalars(query.order_by(Call.created_at.desc()).limit(breaker.window))
        )
    if len(recent) < breaker.min_attempts:
        return None
    failed = [c for c in recent if c.status == "failed"]
    if len(failed) / len(recent) >= breaker.max_failure_rate:
        last = failed[0].end_reason or "failed"
        return f"{len(failed)} of the last {len(recent)} attempts failed (last: {last})"
    answered = sum(1 for c in recent if _answered(c))
    if breaker.min_answer_rate is not None and answered / len(recent) < breaker.min_answer_rate:
        return (
            f"only {answered} of the last {len(recent)} attempts were answered "
            f"(below {breaker.min_answer_rate:.0%})"
        )
    return None


async def trip_if_failing(
    db: Database, campaign_id: str, now: datetime, webhooks: WebhookSettings
) -> str | None:
    """Pause an active campaign whose recent attempts fail; the reason when it paused.

    The campaign records the reason and when it resumes by itself (``breaker.coolDownMinutes``;
    none: by hand), and a ``campaign.paused`` webhook is queued in the same transaction.
    """
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != "active":
            return None
    reason = await why_trip(db, campaign)
    if reason is None:
        return None
    async with db.session() as session:
        campaign = await lock_campaign(session, campaign_id)
        if campaign is None or campaign.status != "active":
            return None
        cool_down = spec_of(campaign).breaker.cool_down_minutes
        campaign.status, campaign.pause_reason = "paused", f"circuit breaker: {reason}"
        campaign.breaker_tripped_at = now
        campaign.resume_at = now + timedelta(minutes=cool_down) if cool_down else None
        await enqueue(
            session,
            webhooks,
            event="campaign.paused",
            key=f"campaign.paused:{campaign.id}:{now.isoformat()}",
            payload=payloads.campaign_paused(campaign),
        )
    logger.warning(f"campaign {campaign.name}: paused by its circuit breaker: {reason}")
    return reason


def resume_due(campaign: Campaign, now: datetime) -> bool:
    """Resume a campaign the breaker paused once its cool-down is over; whether it resumed."""
    if campaign.status != "paused" or campaign.resume_at is None or campaign.resume_at > now:
        return False
    campaign.status, campaign.pause_reason, campaign.resume_at = "active", None, None
    logger.info(f"campaign {campaign.name}: resumed after its cool-down")
    return True
