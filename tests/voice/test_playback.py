"""What the caller heard, from marks: whole turns, barge-ins and marks flushed by clear."""

from __future__ import annotations

import asyncio
import time

from pipecat.frames.frames import (
    InterruptionFrame,
    LLMMessagesTransformFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from voice.frames import (
    BotPauseFrame,
    BotResumeFrame,
    OutputPlaybackMarkFrame,
    PlaybackBarrierFrame,
    PlaybackMarkFrame,
)
from voice.playback import BotTurn, PlaybackTracker

RATE = 8000


def audio(secs: float, ctx: str = "c1") -> TTSAudioRawFrame:
    return TTSAudioRawFrame(
        audio=b"\x00\x00" * int(RATE * secs), sample_rate=RATE, num_channels=1, context_id=ctx
    )


def text(words: str, ctx: str = "c1") -> TTSTextFrame:
    frame = TTSTextFrame(words, text_type="sentence")
    frame.context_id = ctx
    return frame


def tracker_with_log() -> tuple[PlaybackTracker, list[BotTurn]]:
    turns: list[BotTurn] = []
    tracker = PlaybackTracker()

    async def on_turn(_tracker, turn):
        turns.append(turn)

    tracker.add_event_handler("on_bot_turn", on_turn)
    return tracker, turns


async def test_a_turn_is_heard_when_every_mark_comes_back():
    tracker, turns = tracker_with_log()
    down, _ = await run_test(
        tracker,
        frames_to_send=[
            TTSStartedFrame(context_id="c1"),
            audio(1.0),
            text("Hello there."),
            audio(1.0),
            text("How can I help?"),
            TTSStoppedFrame(context_id="c1"),
            SleepFrame(0.05),  # echoes come back after the marks went out
            PlaybackMarkFrame(mark="s1"),
            PlaybackMarkFrame(mark="s2"),
            SleepFrame(0.05),
        ],
    )
    marks = [f.mark for f in down if isinstance(f, OutputPlaybackMarkFrame)]
    assert marks == ["s1", "s2"]
    assert not any(isinstance(f, PlaybackMarkFrame) for f in down), "echoes are consumed"
    assert len(turns) == 1
    assert turns[0].text == "Hello there. How can I help?" and not turns[0].interrupted


async def test_barge_in_keeps_heard_sentences_and_the_played_part_of_the_next():
    tracker, turns = tracker_with_log()
    await run_test(
        tracker,
        frames_to_send=[
            TTSStartedFrame(context_id="c1"),
            audio(0.4),
            text("Hi."),
            audio(2.0),
            text("one two three four five six seven eight nine ten"),
            audio(2.0),
            text("This part was never heard."),
            SleepFrame(0.05),
            PlaybackMarkFrame(mark="s1"),
            SleepFrame(1.0),  # half of the second sentence plays
            InterruptionFrame(),
            PlaybackMarkFrame(mark="s2"),  # flushed by clear: must not count
            PlaybackMarkFrame(mark="s3"),
            SleepFrame(0.05),
        ],
    )
    assert len(turns) == 1 and turns[0].interrupted
    heard = turns[0].text
    assert heard.startswith("Hi. one two three")
    assert "never heard" not in heard and "ten" not in heard
    assert turns[0].spoken_text.endswith("This part was never heard.")


def ten_words() -> list:
    return [
        TTSStartedFrame(context_id="c1"),
        audio(0.4),
        text("Hi."),
        audio(2.0),
        text("one two three four five six seven eight nine ten"),
        SleepFrame(0.05),
        PlaybackMarkFrame(mark="s1"),
        SleepFrame(0.6),  # three words of the second sentence play
    ]


async def test_an_interruption_after_a_pause_cuts_where_the_bot_paused():
    """The caller's words are judged while the bot is silent: that time was not heard."""
    tracker, turns = tracker_with_log()
    await run_test(
        tracker,
        frames_to_send=[*ten_words(), BotPauseFrame(), SleepFrame(0.8), InterruptionFrame()],
    )
    assert len(turns) == 1 and turns[0].interrupted
    heard = turns[0].text
    assert heard.startswith("Hi. one two three") and "six" not in heard, "not 0.8 s more"


async def test_a_resumed_turn_counts_playback_from_the_replayed_point():
    tracker, turns = tracker_with_log()
    await run_test(
        tracker,
        frames_to_send=[
            *ten_words(),
            BotPauseFrame(),
            SleepFrame(0.8),
            BotResumeFrame(),  # replays 0.2 s: the third word again
            SleepFrame(0.6),  # three more words
            InterruptionFrame(),
        ],
    )
    heard = turns[0].text
    assert heard.startswith("Hi. one two three four") and "eight" not in heard, heard


async def test_end_of_call_reports_an_unfinished_turn():
    tracker, turns = tracker_with_log()
    await run_test(
        tracker,
        frames_to_send=[
            TTSStartedFrame(context_id="c2"),
            audio(0.2, "c2"),
            text("Bye now.", "c2"),
            SleepFrame(0.3),
        ],
    )
    await asyncio.sleep(0)
    assert [t.text for t in turns] == ["Bye now."]


async def test_a_barrier_resolves_once_what_came_before_it_was_heard():
    tracker, turns = tracker_with_log()
    empty, waiting, cut = PlaybackBarrierFrame(), PlaybackBarrierFrame(), PlaybackBarrierFrame()
    started = time.monotonic()
    run = asyncio.create_task(
        run_test(
            tracker,
            frames_to_send=[
                empty,  # nothing playing: resolves at once
                TTSStartedFrame(context_id="c1"),
                audio(0.5),
                text("Goodbye."),
                TTSStoppedFrame(context_id="c1"),
                waiting,
                SleepFrame(0.4),  # the caller's side is still playing "Goodbye."
                PlaybackMarkFrame(mark="s1"),
                TTSStartedFrame(context_id="c2"),
                audio(0.5, "c2"),
                text("Cut off.", "c2"),
                TTSStoppedFrame(context_id="c2"),
                cut,
                SleepFrame(0.1),
                InterruptionFrame(),  # a barge-in releases whoever waits on what it cut
                SleepFrame(0.05),
            ],
        )
    )
    await asyncio.wait_for(empty.heard, 1)
    assert time.monotonic() - started < 0.3
    await asyncio.wait_for(waiting.heard, 2)
    assert time.monotonic() - started >= 0.4, "not before the mark came back"
    await asyncio.wait_for(cut.heard, 2)
    down, _ = await run
    assert not any(isinstance(f, PlaybackBarrierFrame) for f in down), (
        "barriers stop at the tracker"
    )
    assert turns[0].text == "Goodbye." and not turns[0].interrupted


async def test_the_llm_context_of_a_cut_turn_is_what_the_caller_heard():
    """The aggregator records the sentences sent; the tracker's transform, what was heard."""
    tracker, turns = tracker_with_log()
    down, _ = await run_test(
        tracker,
        frames_to_send=[*ten_words(), BotPauseFrame(), SleepFrame(0.4), InterruptionFrame()],
    )
    transforms = [f.transform for f in down if isinstance(f, LLMMessagesTransformFrame)]
    assert len(transforms) == 1
    asked = {"role": "user", "content": "Tell me something."}
    sent = {"role": "assistant", "content": "Hi. one two three four five six seven eight nine ten"}
    assert transforms[0]([asked, sent]) == [asked, {**sent, "content": turns[0].text}]
    assert transforms[0]([asked]) == [asked, {"role": "assistant", "content": turns[0].text}], (
        "the aggregator had recorded nothing yet: the heard part is added"
    )
    earlier = {"role": "assistant", "content": "Something else entirely."}
    assert transforms[0]([earlier]) == [earlier], "another turn's message is left alone"


async def test_a_turn_heard_whole_leaves_the_context_alone():
    tracker, _ = tracker_with_log()
    down, _ = await run_test(
        tracker,
        frames_to_send=[
            TTSStartedFrame(context_id="c1"),
            audio(0.2),
            text("Hi."),
            SleepFrame(0.05),
            PlaybackMarkFrame(mark="s1"),
            TTSStoppedFrame(context_id="c1"),
            SleepFrame(0.05),
            InterruptionFrame(),
        ],
    )
    assert not any(isinstance(f, LLMMessagesTransformFrame) for f in down)
