"""The caller's words as a second end-of-turn opinion: a finished sentence ends the turn."""

from __future__ import annotations

import time

import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.voice.answering import PAUSE_SECS, call
from voice.turn_words import reads_finished


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I would like to book an appointment for next Tuesday.",
        "Do you have anything in the morning?",
        "Thank you, that's all!",
        "Sí, el martes a las diez.",
        "Thank you.",
        "Yes, I do.",
        "Hold on.",
        "Sí.",
        "¿Qué?",
    ],
)
def test_sentences_that_read_finished(text: str):
    assert reads_finished(text)


@pytest.mark.parametrize(
    "text",
    [
        "I would like to",  # no full stop: Whisper heard it go on
        "I would like to.",  # a full stop after a word that leaves it hanging
        "My name...",  # trailed off
        "I need to change the...",
        "No, I don't think…",
        "Quiero reservar para el.",
        "",
    ],
)
def test_words_that_do_not(text: str):
    assert not reads_finished(text)


@pytest.mark.flaky(reruns=2)
async def test_a_finished_sentence_ends_the_turn_smart_turn_would_wait_on(llm: FakeOpenAI):
    llm.script.append(Reply("Tuesday at ten works."))
    async with call(llm, []) as caller:
        await caller.says("I'd like Tuesday at ten.")
        await caller.pauses(PAUSE_SECS / 2)  # well before smart-turn's wait runs out
        assert caller.turn_ends() == 1 and caller.runs() == [False], "ended, and asked once"
    assert caller.replies() == "Tuesday at ten works."


@pytest.mark.flaky(reruns=2)
async def test_without_the_words_view_the_turn_waits_for_smart_turn(llm: FakeOpenAI):
    llm.script.append(Reply("Tuesday at ten works."))
    async with call(llm, [], trust_words=False) as caller:
        await caller.says("I'd like Tuesday at ten.")
        await caller.pauses(PAUSE_SECS / 2)
        assert caller.turn_ends() == 0, "smart-turn still waits"
        await caller.pauses(PAUSE_SECS + 0.5)
        assert caller.turn_ends() == 1
    assert caller.replies() == "Tuesday at ten works."


@pytest.mark.flaky(reruns=2)
async def test_words_left_hanging_wait_though_smart_turn_heard_the_end(llm: FakeOpenAI):
    llm.script.append(Reply("Tuesday, then."))  # asked ahead on half of it, dropped, asked again
    async with call(llm, [], hears_ends=True) as caller:
        await caller.says("I would like to")
        await caller.pauses(0.1)  # the longest pause runs from their last word
        assert caller.turn_ends() == 0, "the words wait for the rest"
        await caller.says("book Tuesday.")
        await caller.pauses(0.3)
        assert caller.turn_ends() == 1
    assert caller.user_lines() == ["I would like to book Tuesday."], "one turn, whole"
    assert caller.replies() == "Tuesday, then."


@pytest.mark.flaky(reruns=2)
async def test_words_left_hanging_end_the_turn_after_the_longest_pause(llm: FakeOpenAI):
    llm.script.append(Reply("Sorry, to what?"))
    async with call(llm, [], hears_ends=True) as caller:
        await caller.says("I would like to")
        await caller.pauses(PAUSE_SECS + 0.4)
        assert caller.turn_ends() == 1
    assert caller.replies() == "Sorry, to what?"


@pytest.mark.flaky(reruns=2)
async def test_a_transcript_made_as_the_caller_went_on_does_not_end_their_turn(llm: FakeOpenAI):
    """The STT passed on "That's all." just as the caller went on ("thank you."); the
    transcript reaches the turn-taking after their new speech did. Their next pause
    waits for the rest of their words, and the turn is one line."""
    llm.script.append(Reply("You're welcome."))
    async with call(llm, [], hears_ends=True) as caller:
        first_ended = time.time()
        await caller.speech(0.5)
        await caller.pauses(0.1)
        await caller.transcribed("That's all.", ended=first_ended + 0.3)  # made before they went on
        await caller.speech(0.5)
        await caller.pauses(0.1)
        assert caller.turn_ends() == 0, "the words said after it are not transcribed yet"
        await caller.transcribed("Thank you.", ended=time.time() - 0.2)
        await caller.pauses(0.3)
        assert caller.turn_ends() == 1
    assert caller.user_lines() == ["That's all. Thank you."], "one turn, whole"
