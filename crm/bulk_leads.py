"""Writing a CSV import's leads: new ones in bulk (built off the event loop), others in batches."""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.cpu_sharing import step_aside
from crm.import_rows import ImportReport, ImportRow
from crm.lead_changes import set_do_not_call, set_stage
from crm.models import Lead, new_id
from crm.policy import Policy

# Rows per statement or lookup: each piece of loop work stays a few milliseconds.
CHUNK = 500
COLUMNS = tuple(Lead.__table__.columns.keys())


async def existing_phones(session: AsyncSession, phones: list[str]) -> set[str]:
    """Which of ``phones`` already have a lead."""
    found: set[str] = set()
    for i in range(0, len(phones), CHUNK):
        found.update(
            await session.scalars(select(Lead.phone).where(Lead.phone.in_(phones[i : i + CHUNK])))
        )
    return found


async def leads_by_phone(session: AsyncSession, phones: list[str]) -> list[Lead]:
    """The leads with these phones, looked up a chunk at a time.

    One ``IN (...)`` with every phone of a 50,000-row CSV would pass SQLite's limit of
    32,766 bound variables.
    """
    leads: list[Lead] = []
    for i in range(0, len(phones), CHUNK):
        leads.extend(
            await session.scalars(select(Lead).where(Lead.phone.in_(phones[i : i + CHUNK])))
        )
        await asyncio.sleep(0)
    return leads


def new_lead_values(rows: list[ImportRow], policy: Policy, now: datetime) -> list[dict[str, Any]]:
    """Every column of a new lead per row, as the ORM path would have written it.

    Plain dictionaries, no ORM objects: this runs in a worker thread (it is the import's
    CPU work) and shares nothing with the session.
    """
    first, band = policy.stages.names[0], policy.scoring.band_for(0).name
    values = []
    for count, row in enumerate(rows):
        step_aside(count)
        lead = SimpleNamespace(
            **dict.fromkeys(COLUMNS)
            | {
                "id": new_id(),
                "phone": row.phone,
                "source": "csv-import",
                "stage": first,
                "score": 0,
                "band": band,
                "tags": [],
                "custom_fields": {},
                "do_not_call": False,
                "created_at": now,
                "updated_at": now,
            },
        )
        row.fields.apply(lead, merge=True)  # type: ignore[arg-type]  # the same attributes
        values.append(vars(lead))
    return values


async def insert_new_leads(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Insert the rows in the caller's transaction, a chunk per statement, the loop free between."""
    for i in range(0, len(values), CHUNK):
        await session.execute(insert(Lead.__table__), values[i : i + CHUNK])
        await asyncio.sleep(0)


async def apply_batch(
    session: AsyncSession,
    policy: Policy,
    rows: list[ImportRow],
    report: ImportReport,
    *,
    actor: str,
) -> None:
    """Create or update rows through the ORM (stage moves with rules, do-not-call changes,
    merges into existing leads): the caller flushes after each batch and lets the loop run."""
    existing = {
        lead.phone: lead
        for lead in await session.scalars(
            select(Lead).where(Lead.phone.in_([row.phone for row in rows]))
        )
    }
    for row in rows:
        lead = existing.get(row.phone)
        created = lead is None
        if created:
            lead = Lead(
                id=new_id(),
                phone=row.phone,
                source="csv-import",
                stage=policy.stages.names[0],
                score=0,
                band=policy.scoring.band_for(0).name,
                tags=[],
                custom_fields={},
            )
            session.add(lead)
        changed = row.fields.apply(lead, merge=True)
        if row.stage and row.stage != lead.stage:
            await set_stage(session, policy, lead, row.stage, reason="CSV import", actor=actor)
            changed.append("stage")
        if row.do_not_call is not None and row.do_not_call != lead.do_not_call:
            await set_do_not_call(session, lead, row.do_not_call, actor=actor)
            changed.append("do_not_call")
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
