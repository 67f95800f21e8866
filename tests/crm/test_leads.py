"""Phone numbers normalized to E.164, and leads found or created by number."""

from __future__ import annotations

import asyncio

import pytest

from crm.bulk_leads import leads_by_phone
from crm.db import Database
from crm.leads import LeadStore
from crm.phone_numbers import InvalidPhoneNumber, maybe_e164, region_of, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("+1 415 555 0123", "ES", "+14155550123"),
        ("0034 612 345 678", "US", "+34612345678"),
        ("612 34 56 78", "ES", "+34612345678"),
    ],
)
def test_numbers_normalize_to_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


def test_bad_numbers():
    with pytest.raises(InvalidPhoneNumber):
        to_e164("not a number")
    assert maybe_e164("anonymous") is None and maybe_e164("client:alice") is None
    assert region_of("+34612345678") == "ES"


async def test_get_or_create_is_safe_under_concurrency(database: Database):
    store = LeadStore(database)
    leads = await asyncio.gather(
        *(store.get_or_create("+14155550123", source="inbound-call") for _ in range(5))
    )
    assert len({lead.id for lead in leads}) == 1
    assert (await store.by_phone("+14155550123")).source == "inbound-call"


async def test_leads_are_found_by_phone_past_the_databases_bound_variable_limit(
    database: Database,
):
    phones = [f"+1415{i:07d}" for i in range(33_000)]  # SQLite binds at most 32,766
    await LeadStore(database).get_or_create(phones[-1], source="test")
    async with database.session() as session:
        found = await leads_by_phone(session, phones)
    assert [lead.phone for lead in found] == [phones[-1]]
