"""Commands for live calls reach the instance holding the call over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from telephony.live import LeaveVoicemail, LiveCalls, command_data, command_from_data
from telephony.live_postgres import PostgresCalls
from tests.telephony.test_live import StandInCall, held


@pytest.fixture
async def two_instances(postgres_url: str) -> AsyncIterator[tuple[LiveCalls, LiveCalls]]:
    """Two instances' registries on one database, each listening for the other's commands."""
    remotes = [
        PostgresCalls(postgres_url, instance=name, url=f"http://{name}:8080", ack_timeout=1.0)
        for name in "ab"
    ]
    instances = [LiveCalls(remote) for remote in remotes]
    for remote, live in zip(remotes, instances, strict=True):
        await remote.start(live)
    yield instances[0], instances[1]
    for remote in remotes:
        await remote.close()


def test_a_command_travels_as_plain_data():
    command = LeaveVoicemail("Please call us back.")
    assert command_from_data(command_data(command)) == command


async def test_a_command_landing_on_another_instance_is_applied_where_the_call_is_held(
    two_instances: tuple[LiveCalls, LiveCalls],
):
    holder, other = two_instances
    call = StandInCall("call-held-on-a")
    task = await held(holder, call)

    started = time.monotonic()
    assert await other.deliver("call-held-on-a", LeaveVoicemail("Please call us back."))
    took = time.monotonic() - started
    await asyncio.wait_for(task, 5)
    assert call.reason == "voicemail" and call.voicemail == "Please call us back."
    assert took < 0.5, f"the holder answered in {took:.2f}s"


async def test_the_instance_holding_a_call_is_found_by_its_address(
    two_instances: tuple[LiveCalls, LiveCalls],
):
    holder, other = two_instances
    call = StandInCall("call-located")
    task = await held(holder, call)

    assert await other.held_elsewhere("call-located") == "http://a:8080"
    assert await holder.held_elsewhere("call-located") is None, "held here, not elsewhere"
    assert await other.held_elsewhere("call-nowhere") is None
    await call.end("caller-hangup")
    await task


async def test_a_command_for_a_call_no_instance_holds_is_not_taken(
    two_instances: tuple[LiveCalls, LiveCalls],
):
    holder, other = two_instances
    call = StandInCall("call-on-a")
    task = await held(holder, call)

    assert not await other.deliver("call-nowhere", LeaveVoicemail(None))
    assert call.reason is None, "another call was left alone"
    await call.end("caller-hangup")
    await task


async def test_an_instance_listens_again_after_its_database_connection_is_cut(
    two_instances: tuple[LiveCalls, LiveCalls], postgres_url: str
):
    holder, other = two_instances
    call = StandInCall("call-after-cut")
    task = await held(holder, call)
    admin = await asyncpg.connect(postgres_url)
    try:
        cut = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert cut >= 2, "both instances' listening connections were cut"

    deadline = time.monotonic() + 10
    while not await other.deliver("call-after-cut", LeaveVoicemail(None)):
        assert time.monotonic() < deadline, "the instances never listened again"
        await asyncio.sleep(0.1)
    await asyncio.wait_for(task, 5)
    assert call.reason == "voicemail"
