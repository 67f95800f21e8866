"""Answering ahead while smart-turn waits: the reply is held, then said or dropped."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.voice.answering import BOOKING, PAUSE_SECS, call


@pytest.mark.flaky(reruns=2)
async def test_a_turn_answered_ahead_is_answered_once_when_it_ends(llm: FakeOpenAI):
    llm.script.append(Reply("Tuesday at ten works."))
    tool_runs: list[dict] = []
    async with call(llm, tool_runs) as caller:
        await caller.says("I'd like Tuesday at ten")  # words that do not read finished
        await caller.pauses(0.3)  # smart-turn still waits; the answer is being prepared
        assert len(llm.requests) == 1, "the LLM was asked while the turn was still open"
        assert caller.replies() == "", "nothing of it is said before the turn ends"
        await caller.pauses(PAUSE_SECS + 0.5)
        assert caller.turn_ends() == 1
    assert caller.replies() == "Tuesday at ten works.", "released once the turn ended, once"
    assert len(llm.requests) == 1, "the turn's end asked nothing more"
    assert caller.user_lines() == ["I'd like Tuesday at ten"]


@pytest.mark.flaky(reruns=2)
async def test_an_answer_ahead_is_dropped_when_the_caller_goes_on_and_runs_no_tool(
    llm: FakeOpenAI,
):
    llm.script += [
        Reply("Booking Tuesday.", tool_calls=[BOOKING], first_token_delay=0.4),
        Reply("Tuesday at ten, booked for you."),
    ]
    tool_runs: list[dict] = []
    async with call(llm, tool_runs) as caller:
        await caller.says("Book me for Tuesday")
        await caller.pauses(0.2)  # the answer ahead is on its way...
        await caller.says("at ten o'clock please.")  # ...when the caller goes on
        await caller.pauses(PAUSE_SECS + 0.8)
        assert caller.turn_ends() == 1
    assert tool_runs == [], "the dropped request's tool never ran"
    assert caller.replies() == "Tuesday at ten, booked for you."
    assert "Booking Tuesday." not in caller.replies()
    assert llm.user_messages()[0] == "Book me for Tuesday"
    assert (
        llm.requests[-1]["messages"][-1]["content"] == "Book me for Tuesday at ten o'clock please."
    )
    assert caller.user_lines() == ["Book me for Tuesday at ten o'clock please."], "one turn"


@pytest.mark.flaky(reruns=2)
async def test_a_tool_an_answer_ahead_reaches_runs_once_after_the_turn_ends(llm: FakeOpenAI):
    llm.script += [
        Reply("", tool_calls=[BOOKING]),  # asked ahead (withdrawn at the tool call), then again
        Reply("You're booked."),
    ]
    tool_runs: list[dict] = []
    async with call(llm, tool_runs) as caller:
        await caller.says("Book me for Tuesday at ten")
        await caller.pauses(0.3)
        assert tool_runs == [], "a tool waits for the turn to end"
        await caller.pauses(PAUSE_SECS + 0.8)
    assert tool_runs == [{"start": "2026-03-03T10:00"}], "run once"
    assert caller.replies() == "You're booked."
    assert caller.runs() == [True, False], "asked ahead, then at the turn's end"
