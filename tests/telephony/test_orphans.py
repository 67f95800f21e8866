"""Call leases across instances: a call is settled only once its holder went quiet, and once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from agent.library import AssistantLibrary
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.models import Call, CampaignContact
from telephony.audio_tap import CallAudioTap
from telephony.dependencies import CallDependencies
from telephony.feed import CallFeed
from telephony.live import LiveCalls
from telephony.opening import open_call
from telephony.orphans import CallLeases
from telephony.twilio.carrier import TwilioCarrier
from telephony.twilio.settings import TwilioSettings
from tests.outage import Outage
from tests.telephony.conftest import Rig
from tests.telephony.rig import ROOT
from tests.telephony.test_dialer import WINDOW

LEASE_SECS = 2.0  # renewed every 0.7 s: room for a busy 2-core machine


class HeldCall:
    """A live call as the registry holds it; it runs until its instance dies."""

    def __init__(self, call: Call):
        self.call_id, self.call = call.id, call
        self.feed, self.audio = CallFeed(), CallAudioTap(call.id)
        self.finished = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def end(self, reason: str) -> None:
        """Never asked here."""

    async def leave_voicemail(self, message: str | None) -> None:
        """Never asked here."""


def _settings(rig: Rig) -> TwilioSettings:
    return TwilioSettings(
        rig.twilio.account_sid, rig.twilio.auth_token, rig.server_url, "", "s", rig.twilio.url
    )


async def _answered_campaign_call(rig: Rig) -> Call:
    rig.twilio.talk_secs = 3600  # the call goes on at Twilio
    await rig.lead("+12125550177", timezone="America/New_York")
    await rig.campaign(window=WINDOW, limits={"maxAttempts": 2})
    await rig.dialer().tick()
    deadline = time.monotonic() + 10
    while True:
        async with rig.db.session() as session:
            call = await session.scalar(select(Call))
        if call is not None and call.status == "in-progress":
            return call
        assert time.monotonic() < deadline, "the campaign call was never answered"
        await asyncio.sleep(0.05)


async def test_a_call_is_settled_once_after_its_holder_goes_quiet_with_its_campaign_attempt(
    rig: Rig,
):
    call = await _answered_campaign_call(rig)
    assistants = AssistantLibrary(ROOT / "assistants")
    deps = CallDependencies(rig.db, assistants, on_call_status=rig.status_hooks)
    ask = {"twilio": TwilioCarrier(_settings(rig)).ask}
    here = LiveCalls()
    holder = CallLeases(deps, here, "instance-a", carriers=ask, lease_secs=LEASE_SECS)
    others = [
        CallLeases(deps, LiveCalls(), name, carriers=ask, lease_secs=LEASE_SECS)
        for name in ("instance-b", "instance-c")
    ]
    held = asyncio.create_task(here.hold(HeldCall(call)))
    try:
        await holder.start()
        for other in others:
            await other.start()
        await asyncio.sleep(3 * LEASE_SECS)
        async with rig.db.session() as session:
            alive = await session.get(Call, call.id)
        assert alive.ended_at is None and alive.owner == "instance-a", "held calls are left alone"

        # instance A dies: no more renewals, no finalization; Twilio's callbacks are lost
        await holder.stop()
        held.cancel()
        for task in list(rig.twilio._tasks):
            task.cancel()
        died = time.monotonic()
        deadline = died + 5 * LEASE_SECS
        while True:
            async with rig.db.session() as session:
                settled = await session.get(Call, call.id)
                contact = await session.scalar(select(CampaignContact))
            if contact.status != "calling" or time.monotonic() > deadline:
                break  # the call is settled, and then its attempt
            await asyncio.sleep(0.05)
    finally:
        for leases in [holder, *others]:
            await leases.stop()
        await asyncio.gather(held, return_exceptions=True)
    assert settled.ended_at is not None, "the orphaned call was never settled"
    assert settled.end_reason == "orphaned: instance lost"
    assert settled.status == "completed" and settled.analysis_status == "pending"
    assert settled.owner in {"instance-b", "instance-c"}
    assert sum(leases.settled for leases in others) == 1, "settled once"
    assert call.provider_call_id in rig.twilio.fetched, "Twilio was asked how it went"
    hang_ups = [u for u in rig.twilio.updates if u.form.get("Status") == "completed"]
    assert [u.call_sid for u in hang_ups] == [call.provider_call_id], "and hung it up there"
    assert abs(settled.ended_at - datetime.now(UTC)).total_seconds() < 5 * LEASE_SECS
    assert contact.status != "calling" and contact.claimed_by is None, "the attempt is settled"


async def test_a_call_answered_by_an_instance_that_died_before_its_media_started_is_settled(
    rig: Rig,
):
    assistants = AssistantLibrary(ROOT / "assistants")
    await assistants.load()
    dead = CallDependencies(rig.db, assistants, instance="instance-a", lease_secs=LEASE_SECS)
    call, _ = await open_call(
        dead,
        NewCall(provider="twilio", provider_call_id="CA" + "7" * 32, to_number="+15555550199"),
    )
    assert call.owner == "instance-a" and call.lease_until is not None
    # instance A answered the webhook, then died; Twilio gave up on the stream
    gave_up = time.time()
    rig.twilio.know(call.provider_call_id, "canceled", ended=gave_up)
    ask = {"twilio": TwilioCarrier(_settings(rig)).ask}
    deps = CallDependencies(rig.db, assistants, on_call_status=rig.status_hooks)
    survivor = CallLeases(deps, LiveCalls(), "instance-b", carriers=ask, lease_secs=LEASE_SECS)
    try:
        await survivor.start()
        deadline = time.monotonic() + 5 * LEASE_SECS
        while (settled := await deps.calls.get(call.id)).ended_at is None:
            assert time.monotonic() < deadline, "the orphaned ringing call was never settled"
            await asyncio.sleep(0.05)
    finally:
        await survivor.stop()
    assert settled.end_reason == "orphaned: instance lost" and settled.status == "canceled"
    assert abs(settled.ended_at.timestamp() - int(gave_up)) < 2, "Twilio's end time"
    assert settled.duration_seconds is None, "it never started"


async def test_a_restart_settles_what_its_last_run_left_not_a_call_it_is_answering(rig: Rig):
    """The start's sweep runs in the background while calls arrive: a call answered then
    is under this instance's name and not live yet (its media has not started)."""
    assistants = AssistantLibrary(ROOT / "assistants")
    await assistants.load()
    # a long lease: only the start's sweep runs during the test, no renewal round
    deps = CallDependencies(rig.db, assistants, instance="instance-a", lease_secs=60)

    async def answered(sid: str) -> Call:
        new = NewCall(provider="sip", provider_call_id=sid, to_number="+15555550199")
        call, _ = await open_call(deps, new)
        return call

    left = await answered("sip-left-by-the-last-run")
    restarted = CallLeases(deps, LiveCalls(), "instance-a", lease_secs=60)
    arriving = await answered("sip-answered-as-it-starts")
    try:
        await restarted.start()
        deadline = time.monotonic() + 10
        while (settled := await deps.calls.get(left.id)).ended_at is None:
            assert time.monotonic() < deadline, "the last run's call was never settled"
            await asyncio.sleep(0.05)
    finally:
        await restarted.stop()
    assert settled.end_reason == "orphaned: server restarted"
    answering = await deps.calls.get(arriving.id)
    assert answering.ended_at is None and answering.end_reason is None, (
        "a call this run answered was taken for one its last run left"
    )
    assert restarted.settled == 1


async def test_a_live_call_outlives_a_database_outage_longer_than_its_lease(
    database: Database, outage: Outage
):
    if outage.proxy is None:
        pytest.skip("instances reach one SQLite file alike: no partition to heal unevenly")
    call = await CallStore(database).open(NewCall(provider="sip", provider_call_id="sip-1"))
    assistants = AssistantLibrary(ROOT / "assistants")
    holders_link = await Outage.around(database.url)  # A's own way to the database
    a = CallDependencies(holders_link.database(connect_timeout=0.5), assistants)
    b = CallDependencies(outage.database(connect_timeout=0.5), assistants)
    here = LiveCalls()
    holder = CallLeases(a, here, "instance-a", lease_secs=LEASE_SECS)
    other = CallLeases(b, LiveCalls(), "instance-b", lease_secs=LEASE_SECS)
    held = asyncio.create_task(here.hold(HeldCall(call)))
    try:
        await holder.start()
        await other.start()
        await asyncio.sleep(LEASE_SECS)
        await outage.begin()  # neither instance reaches the database; A cannot renew
        await holders_link.begin()
        await asyncio.sleep(3 * LEASE_SECS)
        await outage.end()  # B is back first, and sees A's lease long lapsed
        await asyncio.sleep(LEASE_SECS / 4)
        await holders_link.end()  # A is back a moment later, and renews
        await asyncio.sleep(3 * LEASE_SECS)
    finally:
        for leases in (holder, other):
            await leases.stop()
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        for deps in (a, b):
            await deps.database.close()
        await holders_link.close()
    alive = await CallStore(database).get(call.id)
    assert alive.ended_at is None and alive.owner == "instance-a", "A renewed it once back"
    assert other.settled == 0
