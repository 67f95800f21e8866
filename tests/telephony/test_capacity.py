"""Capacity: the dialer paces campaigns to the free lines; a hung-up call is no longer live."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from crm.models import Call
from telephony.capacity import CallCapacity, default_max_calls
from telephony.live import LiveCalls
from telephony.outbound.dialer import Dialer
from tests.telephony.conftest import Rig
from tests.telephony.test_live import StandInCall, held

WINDOW = {"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}


def paced_dialer(rig: Rig, capacity: CallCapacity) -> Dialer:
    dialer = Dialer(
        rig.db,
        rig.providers,
        default_from="+15555550000",
        clock=rig.clock,
        instance="paced",
        capacity=capacity,
    )
    rig.status_hooks.append(dialer.settle)  # the served routes settle its calls
    return dialer


async def placed(rig: Rig) -> list[Call]:
    async with rig.db.session() as session:
        return list(await session.scalars(select(Call).where(Call.direction == "outbound")))


async def test_the_dialer_places_no_call_while_the_only_line_is_taken(rig: Rig):
    rig.twilio.talk_secs = 0.1
    for i in range(2):
        await rig.lead(f"+1212555{1400 + i:04d}", timezone="America/New_York")
    await rig.campaign(window=WINDOW, limits={"maxConcurrent": 10, "maxAttempts": 1})
    live = LiveCalls()
    dialer = paced_dialer(rig, CallCapacity(live, max_calls=1))
    caller = StandInCall("inbound-1")  # an inbound call holds the one line
    task = await held(live, caller)

    assert await rig.tick(dialer) == 0, "no free line: the campaign waits"
    assert await placed(rig) == []

    await caller.end("caller-hangup")
    await task
    assert await dialer.tick() == 1, "the line is free again: one call, not two"
    assert await dialer.tick() == 0, "the call ringing out holds the line"
    await rig.twilio.idle()  # answered, talked, completed: settled, the line is free
    assert await rig.tick(dialer) == 1
    assert len(await placed(rig)) == 2


async def test_an_inbound_call_takes_a_line_as_it_is_answered_and_keeps_it_till_it_streams():
    live = LiveCalls()
    capacity = CallCapacity(live, max_calls=1)
    assert capacity.admit("call-1") and capacity.free() == 0
    assert capacity.admit("call-1"), "a retried webhook takes the same line"
    assert not capacity.admit("call-2") and capacity.overflowed == 1
    task = await held(live, StandInCall("call-1"))
    assert live.expected == 0 and live.busy == 1, "the line passed to the live call"
    await live.get("call-1").end("caller-hangup")
    await task
    assert capacity.free() == 1
    capacity.admit("call-3", within=0.05)
    await asyncio.sleep(0.1)
    assert capacity.free() == 1, "a call that never streamed gives its line back"


async def test_a_call_whose_caller_hung_up_is_not_live_while_it_is_finalized():
    live = LiveCalls()
    idle: list[bool] = []
    live.on_idle.append(lambda: idle.append(True))
    call = StandInCall("call-1")
    task = await held(live, call)
    assert live.talking == 1 and live.finishing == 0
    call.audio.input_ended_at = time.monotonic()  # the caller's audio stopped: hung up
    assert live.talking == 0 and live.finishing == 1 and live.busy == 0
    assert "call-1" in live, "still held (and followed) until finalized"
    await call.end("caller-hangup")
    await task
    assert len(live) == 0 and idle == [True], "the last call let go: memory is released"


def test_the_default_capacity_follows_the_cores():
    assert default_max_calls(1) < default_max_calls(4)
    assert default_max_calls(1) >= 1
