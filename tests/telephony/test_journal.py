"""A call's transcript as the journal writes it: in order, and a sentence split by a pause as one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.calls import CallStore, NewCall, NewUtterance
from crm.db import Database
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
