"""The circuit breaker: a campaign whose attempts fail pauses itself, says why, and resumes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.models import Call, Campaign, CampaignContact, WebhookDelivery
from crm.outbound.campaigns import change_state
from crm.webhooks.outbox import WebhookSettings
from telephony.outbound.dialer import Dialer
from tests.fakes.twilio_rest import FAIL, INVALID
from tests.telephony.conftest import Rig

ALWAYS = {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]}
BREAKER = {"window": 10, "minAttempts": 6, "maxFailureRate": 0.5, "coolDownMinutes": 30}


def dialer(rig: Rig) -> Dialer:
    webhooks = WebhookSettings(urls=("http://127.0.0.1:9/hooks",), secret="s")
    made = Dialer(
        rig.db,
        rig.providers,
        default_from="+15555550000",
        clock=rig.clock,
        instance="breaker",
        webhooks=webhooks,
    )
    rig.dialers.append(made)
    return made


async def leads(rig: Rig, count: int, start: int) -> list[str]:
    phones = [f"+1212555{start + i:04d}" for i in range(count)]
    for phone in phones:
        await rig.lead(phone, timezone="America/New_York")
    return phones


async def campaign_row(rig: Rig, campaign_id: str) -> Campaign:
    async with rig.db.session() as session:
        return await session.get(Campaign, campaign_id)


async def test_a_twilio_outage_pauses_the_campaign_before_it_burns_every_leads_attempts(rig: Rig):
    await leads(rig, 40, 900)
    campaign = await rig.campaign(
        window=ALWAYS, limits={"maxConcurrent": 3, "maxAttempts": 2}, breaker=BREAKER
    )
    rig.twilio.refuse_calls = (503, 20503, "Service Unavailable")
    worker = dialer(rig)
    for _ in range(10):
        await rig.tick(worker)
    paused = await campaign_row(rig, campaign.id)
    assert paused.status == "paused"
    assert "circuit breaker" in paused.pause_reason and "20503" in paused.pause_reason
    assert paused.resume_at == rig.clock.now + timedelta(minutes=30)
    async with rig.db.session() as session:
        attempts = list(await session.scalars(select(Call)))
        [event] = list(await session.scalars(select(WebhookDelivery)))
        touched = list(
            await session.scalars(select(CampaignContact).where(CampaignContact.attempts > 0))
        )
    assert len(attempts) <= 6 + 3, "it stopped within a tick of the threshold"
    assert len(touched) <= 9, "the other leads kept every attempt"
    assert event.event == "campaign.paused" and event.payload["message"]["reason"]

    rig.twilio.refuse_calls = None  # the outage is over; the campaign waits for its cool-down
    rig.clock.advance(minutes=10)
    await rig.tick(worker)
    assert (await campaign_row(rig, campaign.id)).status == "paused"
    rig.clock.advance(minutes=21)
    await rig.tick(worker)
    resumed = await campaign_row(rig, campaign.id)
    assert resumed.status == "active" and resumed.pause_reason is None
    assert len(rig.twilio.calls) == 3, "dialling again, with a fresh count of failures"


async def test_carrier_failures_and_invalid_numbers_trip_it_and_a_person_resumes_it(rig: Rig):
    phones = await leads(rig, 12, 950)
    for i, phone in enumerate(phones):
        rig.twilio.scenarios[phone] = FAIL if i % 2 else INVALID
    campaign = await rig.campaign(
        window=ALWAYS,
        limits={"maxConcurrent": 4, "maxAttempts": 1},
        breaker=BREAKER | {"coolDownMinutes": None},
    )
    worker = dialer(rig)
    for _ in range(4):
        await rig.tick(worker)
        rig.clock.advance(minutes=1)
    paused = await campaign_row(rig, campaign.id)
    assert paused.status == "paused" and paused.resume_at is None, "resumed by hand only"
    rig.clock.advance(days=1)
    await rig.tick(worker)
    assert (await campaign_row(rig, campaign.id)).status == "paused"
    async with rig.db.session() as session:
        row = await session.get(Campaign, campaign.id)
        change_state(row, "resume", rig.clock.now)  # what POST /api/campaigns/{id}/resume does
    await rig.tick(worker)
    resumed = await campaign_row(rig, campaign.id)
    assert resumed.status == "active" and resumed.pause_reason is None
