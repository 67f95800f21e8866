"""Caller speech over the bot: backchannels let it talk on, interruptions stop it."""

from __future__ import annotations

import asyncio
import time

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterruptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601

from tests.voice.user_turns import AlwaysDone, UserTurns, user_turns
from voice.frames import BotPauseFrame, BotResumeFrame, NoWordsFrame
from voice.overlap import Overlap, OverlapUserTurnStartStrategy, is_backchannel, lets_the_bot_talk

BACKCHANNELS = [
    "Uh-huh.",
    "Mm-hmm.",
    "Mhm.",
    "Okay.",
    "Right.",
    "Yeah.",
    "Yeah, okay.",
    "Sure.",
    "I see.",
    "Got it.",
    "Sí.",
    "Ajá.",
    "Sí, claro.",
    "Vale.",
    "Claro.",
    "Ya.",
    "Okay, okay.",
]
INTERRUPTIONS = [
    "Wait, no.",
    "Stop.",
    "Stop, stop.",
    "Hold on.",
    "Sorry, what?",
    "No.",
    "Espera.",
    "Espere, no.",
    "Para.",
    "Okay, but wait.",
    "Yes, I want the Saturday hours.",
    "",
    "Sí, pero no el martes.",
]


@pytest.mark.parametrize("text", BACKCHANNELS)
def test_acknowledgements_are_backchannels(text: str):
    assert is_backchannel(text)


@pytest.mark.parametrize("text", INTERRUPTIONS)
def test_anything_else_is_an_interruption(text: str):
    assert not is_backchannel(text)


def test_many_acknowledgements_in_a_row_are_the_caller_taking_the_floor():
    assert not is_backchannel("okay okay okay okay okay okay")


@pytest.mark.parametrize("text", ["Here.", "M-H-N.", "Ahh!", "Sí, claro que sí."])
def test_a_word_or_two_without_a_stop_word_lets_the_bot_talk_on(text: str):
    """Whisper mishears brief backchannels ("sure" as "here"); a caller taking the floor
    starts with a stop word or goes on talking."""
    assert lets_the_bot_talk(text)


@pytest.mark.parametrize(
    "text", ["Stop.", "No.", "What?", "Wait.", "Espera.", "¿Qué?", "Para.", "In a month.", ""]
)
def test_a_stop_word_or_three_words_stop_the_bot(text: str):
    assert not lets_the_bot_talk(text)


OVERLAP = Overlap(interrupt_secs=0.6, transcript_wait_secs=0.3)


def strategies() -> UserTurnStrategies:
    return UserTurnStrategies(
        start=[
            OverlapUserTurnStartStrategy(
                overlap=Overlap(interrupt_secs=0.6, transcript_wait_secs=0.3)
            )
        ],
        stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=AlwaysDone())],
    )


async def bot_speaking(turns: UserTurns) -> None:
    await turns.send(BotStartedSpeakingFrame(), FrameDirection.UPSTREAM)


async def test_a_backchannel_over_the_bot_lets_it_talk_on_and_stays_out_of_the_context():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.4, "Uh-huh.")
        await asyncio.sleep(0.6)
        await turns.speech(0.3, "Sí.")
        await asyncio.sleep(0.5)
        assert turns.interruptions == 0
        await turns.send(BotStoppedSpeakingFrame(), FrameDirection.UPSTREAM)
        await turns.speech(0.8, "What about Saturday?")
        await asyncio.sleep(0.3)
    runs = turns.llm_runs()
    assert len(runs) == 1 and turns.interruptions == 1
    said = [m["content"] for m in runs[0].get_messages() if m["role"] == "user"]
    assert said == ["What about Saturday?"], "the backchannels never reached the LLM"


async def test_backchannels_whose_transcripts_come_late_do_not_add_up_to_an_interruption():
    """A loaded server transcribes late (the STT then hears the pieces as one)."""
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        for _ in range(3):
            await turns.speech(0.5, None)
            await asyncio.sleep(0.8)
        await turns.send(TranscriptionFrame("Okay. Uh-huh. Yeah.", "caller", time_now_iso8601()))
        await asyncio.sleep(0.2)
        assert turns.interruptions == 0


async def test_a_short_word_that_is_not_a_backchannel_interrupts_once_transcribed():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.35, "Stop.")
        await asyncio.sleep(0.1)
        assert turns.interruptions == 1


async def test_speech_over_the_bot_that_goes_on_interrupts_before_its_transcript():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        loop = asyncio.get_running_loop()
        started = loop.time() - 0.15
        await turns.speech(1.5, None)
        cleared = turns.times(InterruptionFrame)
    assert cleared and cleared[0] - started == pytest.approx(0.6, abs=0.1)


async def test_speech_in_pieces_counts_as_one_utterance():
    """VAD hears "wait, ... stop" as two pieces; together they are longer than a backchannel."""
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        started = asyncio.get_running_loop().time() - 0.15
        await turns.speech(0.35, None)
        await asyncio.sleep(0.1)
        await turns.speech(0.5, None)
        cleared = turns.times(InterruptionFrame)
    assert cleared and cleared[0] - started == pytest.approx(0.6, abs=0.1)


async def test_long_speech_whose_start_and_end_arrive_together_interrupts():
    """Smart-turn's inference on the previous pause held the frames back: their times tell."""
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        now = time.time()
        await turns.send_together(
            VADUserStartedSpeakingFrame(start_secs=0.15, timestamp=now - 1.0),
            VADUserStoppedSpeakingFrame(stop_secs=0.2, timestamp=now),
        )
        await asyncio.sleep(0.3)
        assert turns.interruptions == 1


async def test_a_cough_without_words_lets_the_bot_talk_on():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.3, None)
        await asyncio.sleep(0.5)
        assert turns.interruptions == 0


async def test_speech_while_the_bot_is_silent_starts_a_turn_at_once():
    async with user_turns(strategies()) as turns:
        await turns.speech(0.2, None)
        assert turns.interruptions == 1


def pauses(turns: UserTurns) -> list[str]:
    """What the bot was told, in order: pause, resume, interrupt."""
    names = {BotPauseFrame: "pause", BotResumeFrame: "resume", InterruptionFrame: "interrupt"}
    return [names[type(f)] for _, f in turns._seen if type(f) in names]


async def test_the_bot_pauses_at_the_callers_first_sound_and_resumes_after_a_backchannel():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.send(VADUserStartedSpeakingFrame(start_secs=0.15))
        assert pauses(turns) == ["pause"], "silent before a word is known"
        await asyncio.sleep(0.2)
        await turns.send(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        await turns.send(TranscriptionFrame("Mm-hmm.", "caller", time_now_iso8601()))
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["pause", "resume"]


async def test_a_paused_bot_is_interrupted_by_a_stop_word_and_never_resumed():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.35, "Wait, no.")
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["pause", "interrupt"]


async def test_a_cough_resumes_the_bot_as_soon_as_the_stt_heard_no_words():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.3, None)
        await turns.send(NoWordsFrame())
        assert pauses(turns) == ["pause", "resume"], "not after transcript_wait_secs"


async def test_speech_in_pieces_pauses_the_bot_once():
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.speech(0.3, None)
        await asyncio.sleep(0.1)
        await turns.speech(0.2, "Uh-huh, okay.")
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["pause", "resume"]


async def test_the_bot_is_not_paused_when_it_is_silent():
    async with user_turns(strategies()) as turns:
        await turns.speech(0.3, "Hello?")
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["interrupt"]


async def test_a_bot_resumed_elsewhere_is_paused_again_by_the_next_speech():
    """A held caller (the goodbye plays) is not judged: the speaker resumes the bot."""
    async with user_turns(strategies()) as turns:
        await bot_speaking(turns)
        await turns.send(VADUserStartedSpeakingFrame(start_secs=0.15))
        await turns.send(BotResumeFrame())
        await asyncio.sleep(0.7)  # longer than interrupt_secs: nothing is judged any more
        assert pauses(turns) == ["pause", "resume"]
        await turns.send(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        await turns.speech(0.3, "Uh-huh.")
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["pause", "resume", "pause", "resume"]


class _WaitsOnSpeech(TurnAnalyzerUserTurnStopStrategy):
    """A stop strategy that awaits something when the caller starts (the speculative
    one withdraws its request): the aggregator yields mid-frame."""

    async def process_frame(self, frame):
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await asyncio.sleep(0.01)
        return await super().process_frame(frame)


async def test_speech_that_goes_on_over_the_next_reply_reaches_the_output_paused_then_interrupted():
    """The caller talks on over a reply that started at their last pause: the pause and the
    interruption are decided together, and must reach the output in that order; an
    interruption that overtook its pause left the output paused, holding the next reply.
    """
    strategy = UserTurnStrategies(
        start=[OverlapUserTurnStartStrategy(overlap=Overlap(interrupt_secs=0.6))],
        stop=[_WaitsOnSpeech(turn_analyzer=AlwaysDone())],
    )
    async with user_turns(strategy) as turns:
        await bot_speaking(turns)
        await turns.send(VADUserStartedSpeakingFrame(start_secs=0.15, timestamp=time.time() - 1))
        await asyncio.sleep(0.1)
    assert pauses(turns) == ["pause", "interrupt"]
