"""The call store on SQLite and PostgreSQL: calls and transcripts as a call writes them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crm.calls import CallStore, NewCall, NewUtterance
from crm.db import Database, async_url


def test_database_urls_get_async_drivers():
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert async_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert async_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert async_url("postgresql+asyncpg://h/db") == "postgresql+asyncpg://h/db"


async def test_opening_a_call_twice_returns_the_same_call(database: Database):
    store = CallStore(database)
    new = NewCall(
        provider="twilio", provider_call_id="CA1", from_number="+15550001", to_number="+15550002"
    )
    first = await store.open(new)
    again = await store.open(new)
    assert first.id == again.id
    calls, total = await store.list()
    assert total == 1 and calls[0].status == "ringing"


async def test_transcript_is_written_in_order_and_read_back(database: Database):
    store = CallStore(database)
    call = await store.open(NewCall(provider="twilio", provider_call_id="CA2"))
    await store.stream_started(call.id, "MZ1")
    start = datetime.now(UTC)
    lines = [
        NewUtterance("assistant", "Hi, how can I help?", start, start + timedelta(seconds=2)),
        NewUtterance(
            "user",
            "I want to book a visit.",
            start + timedelta(seconds=3),
            start + timedelta(seconds=5),
        ),
        NewUtterance(
            "assistant",
            "Sure, which",
            start + timedelta(seconds=6),
            start + timedelta(seconds=7),
            interrupted=True,
            latency={"voice_to_voice_ms": 800.0},
        ),
    ]
    for line in lines:
        await store.add_utterance(call.id, line)
    loaded = await store.get(call.id, with_transcript=True)
    assert [u.seq for u in loaded.utterances] == [1, 2, 3]
    assert [u.text for u in loaded.utterances] == [line.text for line in lines]
    assert loaded.utterances[2].interrupted and loaded.utterances[2].latency == {
        "voice_to_voice_ms": 800.0
    }
    assert loaded.utterances[1].started_at == lines[1].started_at
    assert loaded.utterances[1].started_at.tzinfo is not None
    assert loaded.status == "in-progress" and loaded.provider_stream_id == "MZ1"


async def test_finalize_is_idempotent(database: Database):
    store = CallStore(database)
    call = await store.open(NewCall(provider="twilio", provider_call_id="CA3"))
    await store.stream_started(call.id, "MZ3")
    await asyncio.sleep(0.05)
    await store.finalize(call.id, end_reason="caller-hangup", latency={"turns": 1})
    first = await store.get(call.id)
    await store.finalize(call.id, end_reason="server-shutdown")
    second = await store.get(call.id)
    assert second.end_reason == "caller-hangup" and second.ended_at == first.ended_at
    assert second.duration_seconds and second.duration_seconds > 0
    assert second.status == "completed" and second.latency == {"turns": 1}


async def test_provider_status_callbacks(database: Database):
    store = CallStore(database)
    await store.open(NewCall(provider="twilio", provider_call_id="CA4"))
    assert await store.provider_status("twilio", "CA-unknown", "completed") is None
    call = await store.provider_status("twilio", "CA4", "no-answer")
    assert call.status == "no-answer" and call.ended_at is not None
    call = await store.provider_status("twilio", "CA4", "in-progress")
    assert call.status == "no-answer", "a final status is never undone"


async def test_list_pages_newest_first(database: Database):
    store = CallStore(database)
    for i in range(5):
        await store.open(NewCall(provider="twilio", provider_call_id=f"CA-page-{i}"))
    page, total = await store.list(limit=2, offset=0)
    assert total == 5 and [c.provider_call_id for c in page] == ["CA-page-4", "CA-page-3"]
    page, _ = await store.list(limit=2, offset=4)
    assert [c.provider_call_id for c in page] == ["CA-page-0"]


async def test_machine_answers_are_kept_for_the_voicemail_outcome(database: Database):
    store = CallStore(database)
    await store.open(NewCall(provider="twilio", provider_call_id="CA5", direction="outbound"))
    call = await store.provider_status("twilio", "CA5", "completed", answered_by="machine_end_beep")
    assert call.answered_by == "machine_end_beep" and call.analysis_status == "pending"
