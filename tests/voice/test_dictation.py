"""A caller reading out a number, an email or a spelling is not answered at the first pause."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from tests.voice.user_turns import AlwaysDone, UserTurns, user_turns
from voice.dictation import (
    Dictation,
    DictationUserTurnStopStrategy,
    asks_for_dictation,
    ends_in_dictation,
    last_assistant_line,
)

MID_DICTATION = [
    "My number is 555",
    "555-123.",
    "five five five,",
    "It's 4111 1111",
    "john dot smith at",
    "J-O-H",
    "My last name is S, M, I",
    "john@gmail",
    "Mi número es 612 34",
    "seis uno dos, tres cuatro",
    "juan punto perez arroba",
    "Es J, U, A",
    "It's john dot smith at gmail",
    "john.smith",
    "Es juan punto perez arroba gmail",
]
FINISHED = [
    "What about Saturday?",
    "Tuesday at 10.",
    "I'm 42.",
    "My email is john@gmail.com",
    "john dot smith at gmail dot com.",
    "juan punto perez arroba gmail punto com",
    "I'm at home.",
    "My name is John Smith.",
    "¿Tienen algo el martes?",
    "A las 10.",
    "",
]


@pytest.mark.parametrize("text", MID_DICTATION)
def test_words_that_stop_mid_dictation(text: str):
    assert ends_in_dictation(text)


@pytest.mark.parametrize("text", FINISHED)
def test_words_that_do_not(text: str):
    assert not ends_in_dictation(text)


@pytest.mark.parametrize(
    "line",
    [
        "What's the best phone number to reach you?",
        "Could you spell your last name for me?",
        "Thanks. And your email address?",
        "¿Me puede dar su número de teléfono?",
        "Perfecto. ¿Cuál es su correo electrónico?",
        "Please read me the reference on your letter, the reference number.",
    ],
)
def test_the_bot_asking_for_something_read_out(line: str):
    assert asks_for_dictation(line)


@pytest.mark.parametrize(
    "line",
    ["How can I help you today?", "Your reference number is 123. Anything else?", ""],
)
def test_the_bot_asking_something_else(line: str):
    assert not asks_for_dictation(line)


def test_the_last_assistant_line_is_the_question_the_caller_answers():
    context = LLMContext(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Hi, I'd like a callback."},
            {"role": "assistant", "content": [{"type": "text", "text": "Your number?"}]},
        ]
    )
    assert last_assistant_line(context) == "Your number?"
    assert last_assistant_line(LLMContext()) == ""


def strategies(context: LLMContext | None = None) -> UserTurnStrategies:
    """A turn model that ends every turn at a pause, held back by the dictation strategy."""
    stop = DictationUserTurnStopStrategy(
        turn_analyzer=AlwaysDone(),
        dictation=Dictation(pause_secs=2.0),
        last_bot_line=lambda: last_assistant_line(context) if context else "",
    )
    return UserTurnStrategies(start=[VADUserTurnStartStrategy()], stop=[stop])


def user_lines(turns: UserTurns) -> list[list[str]]:
    return [
        [m["content"] for m in run.get_messages() if m["role"] == "user"]
        for run in turns.llm_runs()
    ]


async def dictate(turns: UserTurns, groups: list[str], pause: float) -> None:
    for group in groups:
        await turns.speech(0.8, group)
        await asyncio.sleep(pause)


async def test_a_number_read_out_in_groups_is_answered_once_after_the_last():
    async with user_turns(strategies()) as turns:
        await dictate(turns, ["My number is 555", "123", "4567."], pause=0.9)
        assert not turns.llm_runs(), "no answer while the caller pauses between groups"
        await asyncio.sleep(1.5)
    assert user_lines(turns) == [["My number is 555 123 4567."]]


async def test_a_spanish_email_spelled_out_is_answered_once():
    async with user_turns(strategies()) as turns:
        await dictate(turns, ["Es juan punto", "perez arroba", "gmail punto com."], pause=1.0)
        await asyncio.sleep(1.5)
    assert user_lines(turns) == [["Es juan punto perez arroba gmail punto com."]]


async def test_an_email_paused_after_its_words_is_answered_once():
    async with user_turns(strategies()) as turns:
        await dictate(turns, ["It's john dot smith", "at gmail", "dot com."], pause=1.0)
        await asyncio.sleep(1.5)
    assert user_lines(turns) == [["It's john dot smith at gmail dot com."]]


async def test_a_spanish_phone_number_is_answered_once():
    async with user_turns(strategies()) as turns:
        await dictate(turns, ["Mi número es seis uno dos,", "tres cuatro cinco,", "67 89."], 1.0)
        await asyncio.sleep(1.5)
    assert len(turns.llm_runs()) == 1


async def test_a_caller_asked_for_a_number_may_pause_before_reading_it():
    context = LLMContext([{"role": "assistant", "content": "What's your phone number?"}])
    async with user_turns(strategies(context), context) as turns:
        await dictate(turns, ["Sure, it's", "five five five, one two three, four five."], 1.0)
        await asyncio.sleep(1.5)
    assert len(turns.llm_runs()) == 1


async def test_other_words_are_answered_at_once():
    async with user_turns(strategies()) as turns:
        await turns.speech(0.8, "What about Saturday?")
        await asyncio.sleep(0.3)
        assert len(turns.llm_runs()) == 1
