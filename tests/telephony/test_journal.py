"""The journal: lines written in order, a sentence split by a pause as one line, and the feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.calls import CallStore, NewCall, NewToolCall, NewUtterance
from crm.db import Database
from crm.models import ToolCall
from telephony.feed import CallEnded, CallFeed, ToolCalled, TranscriptLine
from telephony.journal import CallJournal
from voice.stt import Resumption

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _line(role: str, text: str, at: float, until: float) -> NewUtterance:
    return NewUtterance(role, text, T0 + timedelta(seconds=at), T0 + timedelta(seconds=until))


async def _transcript(store: CallStore, call_id: str) -> list[tuple[str, str]]:
    call = await store.get(call_id, with_transcript=True)
    return [(u.role, u.text) for u in call.utterances]


async def test_caller_words_after_a_short_pause_complete_their_line(database: Database):
    store = CallStore(database)
    call = await store.open(NewCall(provider="twilio", provider_call_id="CA-journal-1"))
    journal = CallJournal(store, call.id)
    journal.add(_line("assistant", "Hi, how can I help?", 0, 2))
    journal.add(_line("user", "I'd like an appointment for next.", 3, 5))
    journal.add(
        _line("user", "Tuesday.", 5.3, 6),
        resumed=Resumption(
            "I'd like an appointment for next.", "I'd like an appointment for next Tuesday."
        ),
    )
    journal.add(
        _line("user", "At ten.", 6.4, 7),
        resumed=Resumption(
            "I'd like an appointment for next Tuesday.",
            "I'd like an appointment for next Tuesday at ten.",
        ),
    )
    await journal.close()

    assert await _transcript(store, call.id) == [
        ("assistant", "Hi, how can I help?"),
        ("user", "I'd like an appointment for next Tuesday at ten."),
    ]
    line = (await store.get(call.id, with_transcript=True)).utterances[1]
    assert line.started_at == T0 + timedelta(seconds=3) and line.ended_at == T0 + timedelta(
        seconds=7
    )


async def test_resumed_words_stay_a_line_of_their_own_when_something_came_between(
    database: Database,
):
    store = CallStore(database)
    call = await store.open(NewCall(provider="twilio", provider_call_id="CA-journal-2"))
    journal = CallJournal(store, call.id)
    journal.add(_line("user", "For next.", 0, 1))
    journal.add(_line("assistant", "Sure, which", 1.2, 1.5))  # the bot began, and was talked over
    journal.add(
        _line("user", "Tuesday.", 1.6, 2), resumed=Resumption("For next.", "For next Tuesday.")
    )
    journal.add(_line("user", "DTMF: 1", 3, 3))
    journal.add(
        _line("user", "Please.", 3.1, 3.5),
        resumed=Resumption("For next Tuesday.", "For next Tuesday, please."),
    )
    await journal.close()

    assert await _transcript(store, call.id) == [
        ("user", "For next."),
        ("assistant", "Sure, which"),
        ("user", "Tuesday."),
        ("user", "DTMF: 1"),
        ("user", "Please."),
    ]


async def test_the_feed_tells_each_line_as_written_in_order_and_a_completed_line_by_its_number(
    database: Database,
):
    store = CallStore(database)
    call = await store.open(NewCall(provider="twilio", provider_call_id="CA-journal-3"))
    feed = CallFeed()
    follower = feed.subscribe()
    journal = CallJournal(store, call.id, feed)
    journal.add(_line("assistant", "Hi, how can I help?", 0, 2))
    journal.add(_line("user", "Book me for next.", 3, 5))
    journal.add(
        _line("user", "Tuesday.", 5.3, 6),
        resumed=Resumption("Book me for next.", "Book me for next Tuesday."),
    )
    journal.tool_called(NewToolCall("book_appointment", {"start": "Tue 10:00"}, "Booked."))
    cut = _line("assistant", "Booked for Tuesday at", 7, 8)
    journal.add(NewUtterance(cut.role, cut.text, cut.started_at, cut.ended_at, interrupted=True))
    await journal.close()  # nobody has read the feed yet: the journal never waits on it
    feed.end("caller-hangup")

    events = [event async for event in follower]
    assert [
        (e.seq, e.role, e.text, e.interrupted) if isinstance(e, TranscriptLine) else e
        for e in events
    ] == [
        (1, "assistant", "Hi, how can I help?", False),
        (2, "user", "Book me for next.", False),
        (2, "user", "Book me for next Tuesday.", False),  # replaces line 2
        ToolCalled("book_appointment", {"start": "Tue 10:00"}, True, "Booked."),
        (3, "assistant", "Booked for Tuesday at", True),
        CallEnded("caller-hangup"),
    ]
    completed = events[2]
    assert completed.started_at == T0 + timedelta(seconds=3)
    assert completed.ended_at == T0 + timedelta(seconds=6)


async def test_a_tool_call_that_returns_after_the_call_ended_is_still_stored(database: Database):
    store = CallStore(database)
    call = await store.open(NewCall(provider="sip", provider_call_id="sip-journal-late"))
    journal = CallJournal(store, call.id)
    journal.add(_line("assistant", "Connecting you.", 0, 1))
    await journal.close()  # the transfer's BYE ended the pipeline first
    journal.tool_called(NewToolCall(name="transfer_to_human", arguments={}, result={}, ok=True))

    for _ in range(50):
        async with database.session() as session:
            query = select(ToolCall).where(ToolCall.call_id == call.id)
            stored = [(t.name, t.ok) for t in await session.scalars(query)]
        if stored:
            break
        await asyncio.sleep(0.05)
    assert stored == [("transfer_to_human", True)]


async def test_a_tool_that_answers_after_the_call_ended_is_still_stored_with_it(
    database: Database,
):
    store = CallStore(database)
    call = await store.open(NewCall(provider="sip", provider_call_id="sip-journal-late-tool"))
    journal = CallJournal(store, call.id)
    journal.tool_started()  # a transfer: its call is moved, and ends, before the tool answers
    closing = asyncio.create_task(journal.close())
    await asyncio.sleep(0.2)
    waited = not closing.done()
    journal.tool_called(NewToolCall("transfer_to_human", {"destination": "support"}, "Moved."))
    assert await closing

    async with database.session() as session:
        stored = (await session.execute(select(ToolCall.name))).scalars().all()
    assert waited and stored == ["transfer_to_human"]


async def test_a_tool_still_running_does_not_hold_the_end_of_the_call_past_its_wait(
    database: Database,
):
    store = CallStore(database)
    call = await store.open(NewCall(provider="sip", provider_call_id="sip-journal-stuck-tool"))
    journal = CallJournal(store, call.id)
    journal.add(_line("assistant", "One moment.", 0, 1))
    journal.tool_started()  # and never answers

    assert await journal.close(tool_wait=0.2)
    assert await _transcript(store, call.id) == [("assistant", "One moment.")]
