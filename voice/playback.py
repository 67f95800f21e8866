"""What the caller actually heard of each bot turn, from playback marks."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMMessagesTransformFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice.frames import (
    REPLAY_SECS,
    BotPauseFrame,
    BotResumeFrame,
    OutputPlaybackMarkFrame,
    PlaybackBarrierFrame,
    PlaybackMarkFrame,
)
from voice.heard_context import said_as_heard


@dataclass
class BotTurn:
    """One bot turn as the caller heard it.

    Parameters:
        text: The words the caller heard (whole sentences confirmed by marks,
            plus the estimated part of the sentence cut off by a barge-in).
        spoken_text: Everything the bot sent for this turn.
        started_at: When its first audio went out.
        ended_at: When it was last heard (or cut off).
        interrupted: Whether the caller (or the end of the call) cut it short.
    """

    text: str
    spoken_text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool


@dataclass
class _Sentence:
    mark: str
    text: str
    audio_secs: float
    heard: bool = False


@dataclass
class _Turn:
    key: str
    started: float | None = None  # when its first audio went out (monotonic)
    sentences: list[_Sentence] = field(default_factory=list)
    unlabelled_audio_secs: float = 0.0
    tts_stopped: bool = False
    last_heard: float | None = None


def _wall(monotonic_at: float) -> datetime:
    return datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic_at), UTC)


class PlaybackTracker(FrameProcessor):
    """Sends a playback mark after each spoken sentence and reports what was heard.

    Place it just before the output transport. A sentence counts as heard when its
    mark comes back before any ``clear``: the carrier empties its buffer on
    ``clear`` and returns every pending mark at once, so marks pending at an
    interruption are discarded and the sentence then playing is cut by playback
    time. Mark echoes arrive as :class:`PlaybackMarkFrame` from the input side.
    A :class:`PlaybackBarrierFrame` is resolved once every sentence before it was
    heard or cut off (and goes no further). While the bot is paused
    (:class:`BotPauseFrame`) its playback time stands still: an interruption then cuts
    it where it paused, and a resume plays on from ``REPLAY_SECS`` before that.
    A turn cut short is followed downstream by a context transform that has the LLM's
    record of it say what was heard (:func:`voice.heard_context.said_as_heard`).

    Events:
        on_bot_turn(tracker, turn: BotTurn): a bot turn finished playing, or was cut off.
    """

    def __init__(self, **kwargs):
        """Create the tracker for one call."""
        super().__init__(**kwargs)
        self._turns: dict[str, _Turn] = {}
        self._marks: dict[str, tuple[_Turn, _Sentence]] = {}
        self._barriers: list[tuple[frozenset[str], PlaybackBarrierFrame]] = []
        self._counter = 0
        self._paused_at: float | None = None
        self._register_event_handler("on_bot_turn")

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Track TTS output and mark echoes; everything else passes through."""
        await super().process_frame(frame, direction)
        if isinstance(frame, PlaybackMarkFrame):
            await self._mark_heard(frame.mark)
            self._release_barriers()
            return
        if isinstance(frame, PlaybackBarrierFrame):
            self._barriers.append((frozenset(self._marks), frame))
            self._release_barriers()
            return
        if isinstance(frame, BotPauseFrame):
            self._paused_at = self._paused_at or time.monotonic()
        elif isinstance(frame, BotResumeFrame):
            self._play_on()
        elif isinstance(frame, InterruptionFrame):
            cut = await self._cut_all(interrupted=True, at=self._paused_at)
            self._paused_at = None
            self._release_barriers()
            await self.push_frame(frame, direction)
            for turn in cut:  # after the interruption, which has the aggregator record it
                await self.push_frame(LLMMessagesTransformFrame(transform=said_as_heard(turn)))
            return
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._cut_all(interrupted=False)
            self._release_barriers(everything=True)
        elif isinstance(frame, TTSStartedFrame):
            self._turn(frame.context_id)
        elif isinstance(frame, TTSAudioRawFrame):
            turn = self._turn(frame.context_id)
            turn.started = turn.started or time.monotonic()
            turn.unlabelled_audio_secs += len(frame.audio) / (
                2 * frame.sample_rate * frame.num_channels
            )
        elif isinstance(frame, TTSTextFrame) and frame.text.strip():
            await self.push_frame(frame, direction)
            await self._label_sentence(frame)
            return
        elif isinstance(frame, TTSStoppedFrame):
            turn = self._turns.get(frame.context_id or "")
            if turn:
                turn.tts_stopped = True
                await self._maybe_finish(turn)
        await self.push_frame(frame, direction)

    def _release_barriers(self, *, everything: bool = False) -> None:
        waiting = []
        for marks, barrier in self._barriers:
            if everything or not marks & self._marks.keys():
                if not barrier.heard.done():
                    barrier.heard.set_result(True)
            else:
                waiting.append((marks, barrier))
        self._barriers = waiting

    def _turn(self, context_id: str | None) -> _Turn:
        key = context_id or ""
        if key not in self._turns:
            self._turns[key] = _Turn(key=key)
        return self._turns[key]

    async def _label_sentence(self, frame: TTSTextFrame) -> None:
        turn = self._turn(frame.context_id)
        self._counter += 1
        sentence = _Sentence(
            mark=f"s{self._counter}", text=frame.text.strip(), audio_secs=turn.unlabelled_audio_secs
        )
        turn.unlabelled_audio_secs = 0.0
        turn.sentences.append(sentence)
        self._marks[sentence.mark] = (turn, sentence)
        await self.push_frame(OutputPlaybackMarkFrame(mark=sentence.mark))

    async def _mark_heard(self, name: str) -> None:
        found = self._marks.pop(name, None)
        if not found:
            return  # a mark flushed by a clear, or not ours
        turn, sentence = found
        sentence.heard = True
        # An echo that comes while paused is of audio played before the pause.
        turn.last_heard = min(time.monotonic(), self._paused_at or math.inf)
        await self._maybe_finish(turn)

    async def _maybe_finish(self, turn: _Turn) -> None:
        if turn.tts_stopped and turn.sentences and all(s.heard for s in turn.sentences):
            await self._report(turn, heard=[s.text for s in turn.sentences], interrupted=False)

    def _play_on(self) -> None:
        """After a pause, playback goes on from a little before where it stopped."""
        if self._paused_at is None:
            return
        shift = time.monotonic() - self._paused_at + REPLAY_SECS
        self._paused_at = None
        for turn in self._turns.values():
            turn.started = turn.started and turn.started + shift
            turn.last_heard = turn.last_heard and turn.last_heard + shift

    async def _cut_all(self, *, interrupted: bool, at: float | None = None) -> list[BotTurn]:
        """Report every turn still playing; returns those cut short."""
        now = at or time.monotonic()
        cut: list[BotTurn] = []
        for turn in list(self._turns.values()):
            if turn.sentences:
                heard, short = self._heard_by(turn, now)
                report = await self._report(
                    turn, heard=heard, interrupted=interrupted or short, at=now
                )
                cut += [report] if report.text != report.spoken_text else []
            else:
                self._turns.pop(turn.key, None)
        return cut

    def _heard_by(self, turn: _Turn, now: float) -> tuple[list[str], bool]:
        """Sentences confirmed by marks, then whatever playback time says was heard after them."""
        heard = [s.text for s in turn.sentences if s.heard]
        rest = [s for s in turn.sentences if not s.heard]
        elapsed = now - (turn.last_heard or turn.started or now)
        for sentence in rest:
            if elapsed >= sentence.audio_secs:
                heard.append(sentence.text)
                elapsed -= sentence.audio_secs
                continue
            words = sentence.text.split()
            count = math.floor(len(words) * max(0.0, elapsed) / max(sentence.audio_secs, 1e-3))
            if count:
                heard.append(" ".join(words[:count]))
            return heard, True
        return heard, False

    async def _report(
        self, turn: _Turn, *, heard: list[str], interrupted: bool, at: float | None = None
    ) -> BotTurn:
        self._turns.pop(turn.key, None)
        for sentence in turn.sentences:
            self._marks.pop(sentence.mark, None)
        ended = at if at is not None else (turn.last_heard or time.monotonic())
        started = turn.started or ended
        report = BotTurn(
            text=" ".join(heard),
            spoken_text=" ".join(s.text for s in turn.sentences),
            started_at=_wall(started),
            ended_at=_wall(ended),
            interrupted=interrupted,
        )
        await self._call_event_handler("on_bot_turn", report)
        return report
