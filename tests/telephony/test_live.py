"""The live-call registry and a call's feed: found by id, listed, followed in order, ended."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from loguru import logger

from crm.models import Call
from telephony.audio_tap import BotCut, CallAudioTap
from telephony.feed import CallEnded, CallEvent, CallFeed, Missed, TranscriptLine
from telephony.live import LeaveVoicemail, LiveCallInfo, LiveCalls, LiveCommand

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class StandInCall:
    """A live call as the registry sees it (a ``LiveSession``), no pipeline: runs until ended."""

    def __init__(self, call_id: str = "call-1"):
        self.call_id = call_id
        self.call = Call(
            id=call_id,
            provider="twilio",
            direction="outbound",
            from_number="+15555550000",
            to_number="+14155550123",
            assistant="default",
            lead_id="lead-1",
        )
        self.feed = CallFeed()
        self.audio = CallAudioTap(call_id)
        self.finished = asyncio.Event()
        self.reason: str | None = None
        self.voicemail: str | None = None
        self._ending = asyncio.Event()

    async def run(self) -> None:
        try:
            await self._ending.wait()
        finally:
            self.feed.end(self.reason or "caller-hangup")
            self.audio.close()
            self.finished.set()

    async def end(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._ending.set()

    async def leave_voicemail(self, message: str | None) -> None:
        self.voicemail = message
        await self.end("voicemail")


def line(seq: int, text: str = "") -> TranscriptLine:
    return TranscriptLine(seq, "user", text or f"line {seq}", T0, T0)


async def held(live: LiveCalls, call: StandInCall) -> asyncio.Task:
    task = asyncio.create_task(live.hold(call))
    await asyncio.sleep(0)  # hold() has registered the call
    return task


async def collect(events) -> list[CallEvent]:
    return [event async for event in events]


async def test_a_live_call_is_found_by_id_and_listed_until_it_ends():
    live, call = LiveCalls(), StandInCall()
    task = await held(live, call)

    assert live.get("call-1") is call and "call-1" in live and len(live) == 1
    [info] = live.list()
    assert info == LiveCallInfo(
        call_id="call-1",
        assistant="default",
        direction="outbound",
        provider="twilio",
        started_at=info.started_at,
        lead_id="lead-1",
        phone="+14155550123",  # the number we called
    )

    await live.end_all("server-shutdown")
    await task
    assert call.reason == "server-shutdown" and call.finished.is_set()
    assert live.get("call-1") is None and len(live) == 0 and live.list() == []
    assert live.subscribe("call-1") is None, "a call no longer live cannot be followed"


async def test_ending_a_call_ends_its_feed_for_a_follower_waiting_on_it():
    live, call = LiveCalls(), StandInCall()
    task = await held(live, call)
    follower = live.subscribe("call-1")
    assert follower is not None
    reading = asyncio.create_task(collect(follower))
    call.feed.publish(line(1))
    await asyncio.sleep(0)

    await call.end("assistant-hangup")
    await task

    assert await reading == [line(1), CallEnded("assistant-hangup")]
    assert await collect(call.feed.subscribe()) == [CallEnded("assistant-hangup")], (
        "following an ended call yields only its end"
    )


async def test_a_slow_follower_loses_the_oldest_events_and_never_holds_up_the_call():
    feed = CallFeed()
    slow, keeping_up = feed.subscribe(backlog=3), feed.subscribe()

    for seq in range(1, 11):
        feed.publish(line(seq))  # returns at once: nobody is reading yet
    feed.end("caller-hangup")

    assert await collect(slow) == [Missed(8), line(9), line(10), CallEnded("caller-hangup")]
    assert slow.missed == 8
    assert await collect(keeping_up) == [line(s) for s in range(1, 11)] + [
        CallEnded("caller-hangup")
    ]


async def test_a_follower_that_stops_following_gets_nothing_more():
    feed = CallFeed()
    with feed.subscribe() as follower:
        feed.publish(line(1))
    feed.publish(line(2))
    feed.end("caller-hangup")

    assert await collect(follower) == [line(1)]


class OtherInstances:
    """Stands in for the cross-instance link (LISTEN/NOTIFY, Redis): holds ``calls``."""

    def __init__(self, *calls: str):
        self.calls = set(calls)
        self.sent: list[tuple[str, LiveCommand]] = []

    async def deliver(self, call_id: str, command: LiveCommand) -> bool:
        if call_id in self.calls:
            self.sent.append((call_id, command))
            return True
        return False


async def test_a_command_reaches_the_call_where_it_is_held():
    elsewhere = OtherInstances("call-2")
    live, call = LiveCalls(elsewhere), StandInCall()
    task = await held(live, call)

    assert await live.deliver("call-1", LeaveVoicemail("Please call us back."))
    await task
    assert call.reason == "voicemail" and call.voicemail == "Please call us back."
    assert elsewhere.sent == [], "held here: applied here, not sent elsewhere"

    assert await live.deliver("call-2", LeaveVoicemail(None))
    assert elsewhere.sent == [("call-2", LeaveVoicemail(None))], "held elsewhere: sent there"


async def test_a_command_for_a_call_not_live_on_this_instance_is_logged_not_dropped_in_silence():
    said: list[str] = []
    sink = logger.add(lambda message: said.append(str(message)), level="WARNING")
    try:
        assert not await LiveCalls().deliver("call-9", LeaveVoicemail(None))
    finally:
        logger.remove(sink)
    assert any("call call-9: voicemail not applied" in line for line in said), said


async def test_a_live_calls_audio_is_followed_until_it_ends():
    live, call = LiveCalls(), StandInCall()
    assert live.listen("call-1") is None, "not live yet"
    task = await held(live, call)
    stream = live.listen("call-1")
    call.audio._publish(BotCut(1.0))  # what the tap publishes as the call runs
    await call.end("caller-hangup")
    await task
    assert [event async for event in stream] == [BotCut(1.0)]
