"""Caller-ID pools: each dial goes out from a local number of the pool, under its daily cap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Database
from crm.models import Call, Campaign
from crm.outbound.campaigns import spec_of


def presence(e164: str) -> tuple[int, str]:
    """A number's country calling code and area code (``+12125550100`` → ``(1, "212")``).

    The area code is empty where numbers have none the library knows (mobiles, Spain).
    """
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return 0, ""
    national = phonenumbers.national_significant_number(number)
    if number.country_code == 1:  # NANP: the area code is always the first three digits
        return 1, national[:3]
    return number.country_code, national[: phonenumbers.length_of_geographical_area_code(number)]


async def calls_today(
    session: AsyncSession, numbers: Sequence[str], day_start: datetime
) -> dict[str, int]:
    """Calls placed from each of ``numbers`` since ``day_start`` (by every campaign)."""
    rows = await session.execute(
        select(Call.from_number, func.count())
        .where(
            Call.direction == "outbound",
            Call.from_number.in_(numbers),
            Call.created_at >= day_start,
        )
        .group_by(Call.from_number)
    )
    counts = dict.fromkeys(numbers, 0)
    counts.update({number: n for number, n in rows.all()})
    return counts


def pick(to: str, used: dict[str, int], cap: int | None) -> str | None:
    """The caller ID for a call to ``to``: local presence first, then the least used today.

    Candidates are the numbers under ``cap``; those sharing ``to``'s country and area code
    come first, then those sharing its country, then the rest. None when every number is
    at its cap.
    """
    country, area = presence(to)

    def nearness(number: str) -> int:
        own_country, own_area = presence(number)
        if own_country != country:
            return 2
        return 0 if area and own_area == area else 1

    open_numbers = [n for n, count in used.items() if cap is None or count < cap]
    if not open_numbers:
        return None
    return min(open_numbers, key=lambda n: (nearness(n), used[n], n))


async def choose_caller_id(
    db: Database, campaign: Campaign, to: str, default_from: str, now: datetime
) -> tuple[str | None, datetime]:
    """The caller ID for a campaign's call to ``to`` now, and when today's caps reset.

    The pool is the campaign's ``fromNumbers``, else its ``fromNumber`` (else
    ``default_from``); None when every number is at ``maxCallsPerNumberPerDay`` (days
    in the campaign's time zone).
    """
    spec = spec_of(campaign)
    pool = spec.from_numbers or [campaign.from_number or default_from]
    day_start = now.astimezone(ZoneInfo(campaign.timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    next_day = (day_start + timedelta(days=1, hours=2)).replace(hour=0)  # DST-proof
    cap = spec.limits.max_calls_per_number_per_day
    if cap is None and len(pool) == 1:
        return pool[0], next_day
    async with db.session() as session:
        used = await calls_today(session, pool, day_start)
    return pick(to, used, cap), next_day
