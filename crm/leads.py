"""Leads: found by phone number, created for callers the CRM has not met yet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Database
from crm.models import Lead


class LeadStore:
    """Reads and writes leads."""

    def __init__(self, db: Database):
        """Bind the store to a database."""
        self._db = db

    async def by_phone(self, phone: str) -> Lead | None:
        """The lead with this E.164 number, if any."""
        async with self._db.session() as session:
            return await lead_by_phone(session, phone)

    async def get(self, lead_id: str) -> Lead | None:
        """The lead with this id, if any."""
        async with self._db.session() as session:
            return await session.get(Lead, lead_id)

    async def get_or_create(self, phone: str, *, source: str) -> Lead:
        """The lead with this E.164 number, created (with ``source``) if new."""
        existing = await self.by_phone(phone)
        if existing:
            return existing
        try:
            async with self._db.session() as session:
                lead = Lead(phone=phone, source=source)
                session.add(lead)
            return lead
        except IntegrityError:  # created by a concurrent call from the same number
            lead = await self.by_phone(phone)
            assert lead is not None
            return lead


async def lead_by_phone(session: AsyncSession, phone: str) -> Lead | None:
    """The lead with this E.164 number, within a session."""
    return await session.scalar(select(Lead).where(Lead.phone == phone))
