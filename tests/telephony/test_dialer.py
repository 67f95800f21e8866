"""The dialer on a fake Twilio: windows, do-not-call, attempts, caps, two instances, crashes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crm.followups import create_task, mark_do_not_call
from crm.models import Agent, Call, CampaignContact, DoNotCall, Lead, Task
from crm.outbound.calling_windows import CallingWindow
from crm.outbound.campaign_runs import enroll_due
from crm.outbound.dialing import PLACE_LEASE, claim_due
from tests.fakes.twilio_rest import BUSY, INVALID, MACHINE, NO_ANSWER
from tests.telephony.conftest import Rig

WINDOW = {"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}


async def contacts(rig: Rig) -> dict[str, CampaignContact]:
    async with rig.db.session() as session:
        return {c.phone: c for c in await session.scalars(select(CampaignContact))}


async def calls(rig: Rig) -> list[Call]:
    async with rig.db.session() as session:
        return list(await session.scalars(select(Call).order_by(Call.created_at)))


async def test_nobody_is_dialled_outside_their_own_hours_across_zones_and_dst(rig: Rig):
    phones = {
        "+12125550101": "America/New_York",
        "+13105550102": "America/Los_Angeles",
        "+34911234567": "Europe/Madrid",
        "+81312345678": "Asia/Tokyo",
        "+14155550103": None,  # zone inferred from the number: Los Angeles
    }
    for phone, tz in phones.items():
        await rig.lead(phone, timezone=tz)
    await rig.campaign(window=WINDOW, limits={"maxConcurrent": 10, "maxAttempts": 1})
    dialer = rig.dialer()
    # Friday 2026-10-30 through Tuesday 2026-11-03: US clocks go back on Sunday 1 November.
    rig.clock.now = datetime(2026, 10, 30, 0, 0, tzinfo=UTC)
    while rig.clock.now < datetime(2026, 11, 4, tzinfo=UTC):
        await rig.tick(dialer)
        rig.clock.advance(minutes=30)
    window = CallingWindow(start=time(9, 0), end=time(17, 0))
    placed = await calls(rig)
    assert {c.to_number for c in placed} == set(phones), (
        "everyone is called once their window opens"
    )
    by_phone = await contacts(rig)
    for call in placed:
        zones = tuple(by_phone[call.to_number].zones)
        assert window.is_open(call.created_at, zones), (
            f"{call.to_number} dialled at {call.created_at} ({zones})"
        )
    assert by_phone["+14155550103"].zones == ["America/Los_Angeles"]


async def test_do_not_call_is_never_dialled_even_when_marked_while_queued(rig: Rig):
    listed = await rig.lead("+12125550111", timezone="America/New_York")
    await rig.lead("+12125550112", timezone="America/New_York", do_not_call=True)
    queued = await rig.lead("+12125550113", timezone="America/New_York")
    await rig.lead("+12125550114", timezone="America/New_York")
    async with rig.db.session() as session:
        session.add(DoNotCall(phone=listed.phone, source="test"))
    rig.clock.now = datetime(
        2026, 12, 1, 12, 0, tzinfo=UTC
    )  # 07:00 in New York: queued, not dialled
    await rig.campaign(window=WINDOW)
    dialer = rig.dialer()
    await rig.tick(dialer)
    async with rig.db.session() as session:  # marked DNC while waiting for the window
        lead = await session.get(Lead, queued.id)
        await mark_do_not_call(
            session, lead.phone, reason="asked by email", source="test", lead=lead
        )
    rig.clock.now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    await rig.tick(dialer)
    assert [c.to for c in rig.twilio.calls] == ["+12125550114"]
    by_phone = await contacts(rig)
    assert by_phone["+12125550113"].status == "skipped" and by_phone["+12125550113"].reason == "dnc"
    assert "+12125550111" not in by_phone and "+12125550112" not in by_phone, (
        "DNC leads are never enrolled"
    )


async def test_attempts_retry_delays_and_outcomes(rig: Rig):
    rig.twilio.scenarios.update(
        {
            "+12125550121": NO_ANSWER,
            "+12125550122": BUSY,
            "+12125550123": INVALID,
            "+12125550124": MACHINE,
        }
    )
    for phone in ("+12125550121", "+12125550122", "+12125550123", "+12125550124"):
        await rig.lead(phone, timezone="America/New_York")
    await rig.campaign(
        window={"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        limits={
            "maxAttempts": 3,
            "maxConcurrent": 10,
            "retryMinutes": {"no-answer": 60, "busy": 10, "voicemail": 30},
        },
    )
    dialer = rig.dialer()
    for _ in range(12):  # two hours in 10-minute steps
        await rig.tick(dialer)
        rig.clock.advance(minutes=10)
    by_phone = await contacts(rig)
    assert (
        rig.twilio.dialled("+12125550122") == 3
        and by_phone["+12125550122"].reason == "max_attempts"
    )
    assert rig.twilio.dialled("+12125550121") == 2, "no-answer waits 60 minutes between attempts"
    assert by_phone["+12125550121"].status == "pending"
    assert (
        by_phone["+12125550123"].status == "skipped"
        and by_phone["+12125550123"].reason == "invalid_number"
    )
    assert (
        by_phone["+12125550124"].last_outcome == "voicemail"
        and rig.twilio.dialled("+12125550124") == 3
    )
    voicemail = [c for c in await calls(rig) if c.to_number == "+12125550124"]
    assert all(c.answered_by == "machine_end_beep" for c in voicemail)


async def test_daily_cap_and_concurrency_hold(rig: Rig):
    rig.twilio.talk_secs = 0.3
    for i in range(20):
        await rig.lead(f"+1212555{1300 + i:04d}", timezone="America/New_York")
    await rig.campaign(
        window=WINDOW,
        limits={"maxCallsPerDay": 7, "maxConcurrent": 3, "maxAttempts": 1},
        timezone="America/New_York",
    )
    dialer = rig.dialer()
    for _ in range(30):
        assert await dialer.tick() <= 3
        await asyncio.sleep(0.1)
    await rig.twilio.idle()
    assert len(rig.twilio.calls) == 7, "the daily cap holds"
    assert rig.twilio.max_active <= 3, "never more than maxConcurrent at once"
    rig.clock.advance(days=1)
    for _ in range(6):
        await rig.tick(dialer)
    assert len(rig.twilio.calls) == 14, "the next day the cap resets"


async def test_a_campaign_paced_to_a_queue_calls_no_more_at_once_than_agents_available(rig: Rig):
    """Progressive dialing: each call may end in a transfer, so one available agent, one call."""
    rig.twilio.talk_secs = 0.4
    for i in range(6):
        await rig.lead(f"+1212555{1400 + i:04d}", timezone="America/New_York")
    async with rig.db.session() as session:
        for name, presence, queues in [
            ("Ana", "available", ["sales"]),
            ("Bo", "away", ["sales"]),
            ("Cy", "available", ["support"]),
        ]:
            session.add(Agent(name=name, presence=presence, queues=queues, token_hash=name))
    await rig.campaign(
        window=WINDOW,
        limits={"maxConcurrent": 10, "maxAttempts": 1, "pacedToQueue": "sales"},
        timezone="America/New_York",
    )
    dialer = rig.dialer()
    for _ in range(15):
        assert await dialer.tick() <= 1
        await asyncio.sleep(0.1)
    await rig.twilio.idle()
    assert rig.twilio.max_active == 1, "one available agent of the queue: one call at a time"
    assert len(rig.twilio.calls) >= 2, "the next call goes out once the line is free"

    async with rig.db.session() as session:
        for agent in await session.scalars(select(Agent)):
            agent.presence = "offline"
    before = len(rig.twilio.calls)
    for _ in range(5):
        await rig.tick(dialer)
    assert len(rig.twilio.calls) == before, "nobody available: nobody is called"


async def test_two_dialers_never_dial_the_same_contact_twice(rig: Rig):
    rig.twilio.talk_secs = 0.02
    for i in range(150):
        await rig.lead(f"+1646555{2000 + i:04d}", timezone="America/New_York")
    await rig.campaign(window=WINDOW, limits={"maxConcurrent": 40, "maxAttempts": 1})
    first, second = rig.dialer("dialer-a", own_engine=True), rig.dialer("dialer-b", own_engine=True)

    async def run(dialer):
        for _ in range(40):
            await dialer.tick()
            if sum(d.placed for d in (first, second)) >= 150:
                return

    await asyncio.gather(run(first), run(second))
    await rig.twilio.idle()
    numbers = [c.to for c in rig.twilio.calls]
    assert len(numbers) == 150 and len(set(numbers)) == 150, "every contact dialled exactly once"
    assert not rig.twilio.overlapping_numbers
    assert first.placed > 0 and second.placed > 0, "both instances dialled"


async def test_a_crashed_dialers_claims_are_recovered(rig: Rig):
    for i in range(3):
        await rig.lead(f"+1212555{1400 + i:04d}", timezone="America/New_York")
    campaign = await rig.campaign(window=WINDOW)
    await enroll_due(rig.db, rig.clock.now)
    crashed = await claim_due(rig.db, campaign.id, "crashed-dialer", rig.clock.now)
    assert len(crashed) == 2  # maxConcurrent defaults to 2
    survivor = rig.dialer("survivor")
    await rig.tick(survivor)
    assert len(rig.twilio.calls) == 0, "claims are respected while their lease runs"
    rig.clock.advance(seconds=PLACE_LEASE.total_seconds() + 1)
    for _ in range(3):
        await rig.tick(survivor)
    assert sorted(c.to for c in rig.twilio.calls) == sorted(
        f"+1212555{1400 + i:04d}" for i in range(3)
    )
    assert all(c.status == "completed" and c.attempts == 1 for c in (await contacts(rig)).values())


async def test_callbacks_and_new_leads_feed_the_dialer(rig: Rig):
    lead = await rig.lead("+12125550131", timezone="America/New_York")
    async with rig.db.session() as session:
        await create_task(
            session,
            kind="callback",
            title="Call back",
            lead_id=lead.id,
            due_at=rig.clock.now + timedelta(hours=1),
            created_by="assistant",
        )
    await rig.campaign(
        window=WINDOW, audience=None, triggers={"callbacks": True, "newLeadWithinMinutes": 5}
    )
    dialer = rig.dialer()
    await rig.tick(dialer)
    assert rig.twilio.dialled(lead.phone) == 0, "not before the callback is due"
    newcomer = await rig.lead("+12125550132", timezone="America/New_York")
    async with rig.db.session() as session:  # created "now" by the dialer's clock
        (await session.get(Lead, newcomer.id)).created_at = rig.clock.now
    await rig.tick(dialer)
    assert rig.twilio.dialled(newcomer.phone) == 1
    rig.clock.advance(hours=1)
    await rig.tick(dialer)
    await rig.tick(dialer)
    assert rig.twilio.dialled(lead.phone) == 1
    async with rig.db.session() as session:
        assert (await session.scalar(select(Task.status))) == "done"
        assert await session.scalar(select(func.count()).select_from(Call)) == 2


async def test_a_few_hundred_leads_in_mixed_zones_hold_every_rule(rig: Rig):
    """Two dialers, 240 leads over 8 zones (some inferred from the number), DNC, no-answers, DST."""
    zones = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "Europe/Madrid",
        "Europe/London",
        "Asia/Tokyo",
        "Australia/Sydney",
    ]
    leads = []
    async with rig.db.session() as session:
        for i in range(240):
            phone = f"+1917555{3000 + i:04d}"
            lead = Lead(
                phone=phone,
                source="test",
                timezone=zones[i % 8] if i % 10 else None,
                do_not_call=(i % 37 == 0),
                score=i % 100,
            )
            session.add(lead)
            leads.append(lead)
            if i % 11 == 0:
                rig.twilio.scenarios[phone] = NO_ANSWER
    await rig.campaign(
        window=WINDOW,
        limits={
            "maxAttempts": 2,
            "maxConcurrent": 20,
            "maxCallsPerDay": 150,
            "retryMinutes": {"no-answer": 180},
        },
        timezone="America/New_York",
    )
    first, second = rig.dialer("a", own_engine=True), rig.dialer("b", own_engine=True)
    rig.clock.now = datetime(2026, 10, 30, 0, 0, tzinfo=UTC)  # across the US DST change
    while rig.clock.now < datetime(2026, 11, 4, tzinfo=UTC):
        await asyncio.gather(first.tick(), second.tick())
        await rig.twilio.idle()
        rig.clock.advance(minutes=60)
    window = CallingWindow(start=time(9, 0), end=time(17, 0))
    by_phone = await contacts(rig)
    placed = await calls(rig)
    dnc = {lead.phone for lead in leads if lead.do_not_call}
    assert dnc and not dnc & {c.to_number for c in placed}, "DNC leads are never dialled"
    for call in placed:
        assert window.is_open(call.created_at, tuple(by_phone[call.to_number].zones)), (
            call.to_number
        )
    assert not rig.twilio.overlapping_numbers, "nobody is called twice at once"
    assert max(rig.twilio.dialled(p) for p in by_phone) <= 2, "max attempts"
    per_day: dict = {}
    for call in placed:
        day = call.created_at.astimezone(ZoneInfo("America/New_York")).date()
        per_day[day] = per_day.get(day, 0) + 1
    assert max(per_day.values()) <= 150, per_day
    settled = [c for c in by_phone.values() if c.status in ("completed", "failed")]
    assert len(settled) == len(by_phone) == 240 - len(dnc), "everyone reachable was worked through"
    assert first.placed and second.placed


async def test_a_failing_status_hook_never_stops_the_attempt_settling(rig: Rig):
    async def broken(call: Call) -> None:
        raise RuntimeError("a hook that fails")

    rig.status_hooks.insert(0, broken)  # runs before the hook that settles campaign attempts
    await rig.lead("+12125550161", timezone="America/New_York")
    await rig.campaign(window={"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]})
    assert await rig.tick(rig.dialer()) == 1
    [call] = await calls(rig)
    contact = (await contacts(rig))["+12125550161"]
    assert call.status == "completed" and contact.status == "completed", (
        call.status,
        contact.status,
    )
