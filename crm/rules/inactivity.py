"""The ``inactivity_days`` trigger: a periodic sweep for leads nobody talked to in N days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError

from crm.db import Database
from crm.models import AutomationRun, Lead, utcnow
from crm.policy import Policy
from crm.rules.changes import Changes
from crm.rules.engine import RuleEngine


async def sweep_inactivity(
    db: Database, policy: Policy, *, now: datetime | None = None, limit: int = 200
) -> int:
    """Fire ``inactivity_days`` rules for open leads silent for their ``days``; returns how many.

    A rule fires once per lead per silence: a lead contacted again becomes eligible again
    after another ``days``. Do-not-call and closed (won/lost) leads are left alone.
    """
    now = now or utcnow()
    engine = RuleEngine(policy)
    handled = 0
    last_contact = func.coalesce(Lead.last_contacted_at, Lead.created_at)
    for rule in policy.rules.for_trigger("inactivity_days"):
        already = exists().where(
            and_(
                AutomationRun.rule_id == rule.id,
                AutomationRun.lead_id == Lead.id,
                AutomationRun.created_at >= last_contact,
            )
        )
        async with db.session() as session:
            ids = list(
                await session.scalars(
                    select(Lead.id)
                    .where(
                        last_contact < now - timedelta(days=rule.days),
                        Lead.do_not_call.is_(False),
                        Lead.stage.not_in(policy.stages.closed),
                        ~already,
                    )
                    .order_by(last_contact)
                    .limit(limit)
                )
            )
        for lead_id in ids:
            try:
                async with db.session() as session:
                    lead = await session.get(Lead, lead_id)
                    if lead is None:
                        continue
                    since = (lead.last_contacted_at or lead.created_at).isoformat()
                    changes = Changes(
                        session, policy, lead=lead, call=None, subject=f"inactive:{lead.id}:{since}"
                    )
                    changes.emit("inactivity_days", rule=rule.id, days=rule.days, since=since)
                    await engine.run(changes)
            except IntegrityError:  # another instance's sweep ran this rule for this lead first
                continue
            handled += 1
    return handled
