"""Caller-ID pools: local presence, calls spread across the pool, a daily cap per number."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from crm.models import CampaignContact
from tests.telephony.conftest import Rig

ALWAYS = {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]}
NEW_YORK, LOS_ANGELES, LOS_ANGELES_2, MADRID = (
    "+12125550100",
    "+13105550100",
    "+13105550111",
    "+34911000000",
)


async def test_each_call_goes_out_from_a_local_number_spread_across_the_pool(rig: Rig):
    callees = {
        "+12125551001": NEW_YORK,
        "+12125551002": NEW_YORK,
        "+13105551003": "LA",
        "+13105551004": "LA",
        "+13105551005": "LA",
        "+13105551006": "LA",
        "+34911231007": MADRID,
    }
    for phone in callees:
        await rig.lead(phone, timezone="America/New_York")
    await rig.campaign(
        window=ALWAYS,
        fromNumbers=[NEW_YORK, LOS_ANGELES, LOS_ANGELES_2, MADRID],
        limits={"maxConcurrent": 10, "maxAttempts": 1},
    )
    await rig.tick(rig.dialer())
    used = {call.to: call.from_ for call in rig.twilio.calls}
    assert len(used) == len(callees)
    for to, expected in callees.items():
        if expected == "LA":
            assert used[to] in (LOS_ANGELES, LOS_ANGELES_2), (to, used[to])
        else:
            assert used[to] == expected, (to, used[to])
    la = Counter(used[to] for to, where in callees.items() if where == "LA")
    assert la == {LOS_ANGELES: 2, LOS_ANGELES_2: 2}, "spread across the local numbers"


async def test_a_number_at_its_daily_cap_is_rested_until_tomorrow(rig: Rig):
    phones = [f"+1212555{2000 + i:04d}" for i in range(7)]
    for phone in phones:
        await rig.lead(phone, timezone="America/New_York")
    await rig.campaign(
        window=ALWAYS,
        timezone="America/New_York",
        fromNumbers=[NEW_YORK, LOS_ANGELES],
        limits={"maxConcurrent": 10, "maxAttempts": 1, "maxCallsPerNumberPerDay": 2},
    )
    dialer = rig.dialer()
    await rig.tick(dialer)
    await rig.tick(dialer)
    by_number = Counter(call.from_ for call in rig.twilio.calls)
    assert by_number == {NEW_YORK: 2, LOS_ANGELES: 2}, "local first, then the pool, each capped"
    async with rig.db.session() as session:
        waiting = list(
            await session.scalars(
                select(CampaignContact).where(CampaignContact.status == "pending")
            )
        )
    assert len(waiting) == 3 and all(c.attempts == 0 for c in waiting), "not an attempt"
    assert all(c.next_attempt_at > rig.clock.now for c in waiting)
    rig.clock.advance(days=1)
    await rig.tick(dialer)
    assert len(rig.twilio.calls) == 7, "the caps reset the next day"
