"""Which server instance holds each live call, until when; and the calls whose holder is gone."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from crm.db import Database
from crm.models import Call, Utterance

# Reasons a call nobody holds any more is ended with.
RESTARTED = "orphaned: server restarted"
OWNER_LOST = "orphaned: instance lost"


@dataclass(frozen=True)
class Lease:
    """A call held by the instance ``owner`` until ``until`` (unless renewed)."""

    owner: str
    until: datetime


async def hold(db: Database, owner: str, call_ids: Collection[str], until: datetime) -> None:
    """``owner`` holds these live calls until ``until`` (renewed while they live)."""
    if not call_ids:
        return
    async with db.session() as session:
        await session.execute(
            update(Call)
            .where(Call.id.in_(list(call_ids)), Call.ended_at.is_(None))
            .values(owner=owner, lease_until=until)
        )


def _unheld(owner: str, now: datetime, restarted_at: datetime | None):
    """Calls nobody holds: lease lapsed, or (after a restart) left by ``owner``'s last run.

    A restarted instance holds none of the calls its previous run left under its name,
    whatever their leases say; those are the ones opened before ``restarted_at`` (when
    this run began). A call opened since is this run's own, answered and not yet live
    (its media has not started): it is not left.
    """
    lapsed = Call.lease_until < now
    if restarted_at is None:
        return lapsed
    return or_(lapsed, and_(Call.owner == owner, Call.created_at < restarted_at))


async def orphans(
    db: Database, owner: str, now: datetime, *, restarted_at: datetime | None = None
) -> list[Call]:
    """Calls not ended that nobody holds (see :func:`_unheld`), the longest unheld first."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Call)
            .where(
                Call.ended_at.is_(None),
                Call.lease_until.is_not(None),
                _unheld(owner, now, restarted_at),
            )
            .order_by(Call.lease_until)
            .limit(100)
        )
        return list(rows)


async def claim(
    db: Database,
    call_id: str,
    owner: str,
    now: datetime,
    until: datetime,
    *,
    restarted_at: datetime | None = None,
) -> bool:
    """Take the settling of an orphaned call; False when another instance took it first."""
    async with db.session() as session:
        result = await session.execute(
            update(Call)
            .where(
                Call.id == call_id,
                Call.ended_at.is_(None),
                _unheld(owner, now, restarted_at),
            )
            .values(owner=owner, lease_until=until)
        )
        return result.rowcount == 1


async def held_elsewhere(db: Database, call_id: str, owner: str, now: datetime) -> bool:
    """Whether another instance holds the call live now (its lease runs, it is not ended)."""
    async with db.session() as session:
        call = await session.get(Call, call_id)
    return (
        call is not None
        and call.ended_at is None
        and call.owner not in (None, owner)
        and call.lease_until is not None
        and call.lease_until > now
    )


async def last_heard(db: Database, call: Call, lease: timedelta) -> datetime | None:
    """When an orphaned call was last known alive: its last line's end, or its last renewal."""
    async with db.session() as session:
        last_line = await session.scalar(
            select(func.max(Utterance.ended_at)).where(Utterance.call_id == call.id)
        )
    renewed = call.lease_until - lease if call.lease_until else None
    known = [t for t in (last_line, renewed) if t is not None]
    return max(known) if known else None
