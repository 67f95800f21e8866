"""Speed to lead: new leads within the minutes, ahead of the queue, if the audience selects them."""

from __future__ import annotations

from datetime import timedelta

from crm.models import Lead
from tests.telephony.conftest import Rig

ALWAYS = {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]}


async def created(rig: Rig, phone: str, minutes_ago: float, **fields) -> Lead:
    """A lead created ``minutes_ago`` by the dialer's clock."""
    return await rig.lead(
        phone,
        timezone="America/New_York",
        created_at=rig.clock.now - timedelta(minutes=minutes_ago),
        **fields,
    )


async def test_a_lead_older_than_the_triggers_minutes_is_not_new_any_more(rig: Rig):
    await rig.campaign(window=ALWAYS, audience=None, triggers={"newLeadWithinMinutes": 5})
    rig.clock.advance(hours=1)  # the campaign has run for an hour (paused, or the dialer down)
    fresh = await created(rig, "+12125550201", minutes_ago=2)
    stale = await created(rig, "+12125550202", minutes_ago=10)
    await rig.tick(rig.dialer())
    assert rig.twilio.dialled(fresh.phone) == 1, "a lead inside its minutes is called"
    assert rig.twilio.dialled(stale.phone) == 0, "a lead past its minutes is not a new lead"


async def test_new_leads_jump_a_backlog_so_they_are_called_within_their_minutes(rig: Rig):
    for i in range(6):
        await created(rig, f"+1212555{300 + i:04d}", minutes_ago=600, score=90)
    await rig.campaign(
        window=ALWAYS,
        audience={},
        limits={"maxConcurrent": 1, "maxAttempts": 1},
        triggers={"newLeadWithinMinutes": 5},
    )
    dialer = rig.dialer()
    await rig.tick(dialer)  # the backlog is enrolled and its first contact called
    newcomer = await created(rig, "+12125550399", minutes_ago=0)
    rig.clock.advance(minutes=1)
    await rig.tick(dialer)
    assert [c.to for c in rig.twilio.calls][-1] == newcomer.phone, (
        "the next free line calls the new lead, ahead of five older high-score contacts"
    )


async def test_new_leads_enter_only_when_the_campaigns_audience_selects_them(rig: Rig):
    await rig.campaign(
        window=ALWAYS,
        audience={"stages": ["new"], "tags": ["ads"], "source": "web-form", "minScore": 10},
        triggers={"newLeadWithinMinutes": 5},
    )
    dialer = rig.dialer()
    await rig.tick(dialer)  # the audience (nobody yet) is enrolled once
    rig.clock.advance(minutes=2)
    web = {"source": "web-form", "tags": ["ads"], "score": 20}
    wanted = await created(rig, "+12125550401", 1, **web)
    caller = await created(rig, "+12125550402", 1, **web | {"source": "inbound-call"})
    untagged = await created(rig, "+12125550403", 1, **web | {"tags": ["seo"]})
    won = await created(rig, "+12125550404", 1, **web | {"stage": "won"})
    cold = await created(rig, "+12125550405", 1, **web | {"score": 5})
    await rig.tick(dialer)
    await rig.tick(dialer)
    assert rig.twilio.dialled(wanted.phone) == 1
    for lead, why in (
        (caller, "an inbound caller is not called back by a web-form campaign"),
        (untagged, "tags"),
        (won, "stages"),
        (cold, "minScore"),
    ):
        assert rig.twilio.dialled(lead.phone) == 0, why
