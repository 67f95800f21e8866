"""Caller speech over the bot: a backchannel ("uh-huh", "sí") lets it talk on, the rest stops it."""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    SystemFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import BaseUserTurnStartStrategy

from voice.frames import BotPauseFrame, BotResumeFrame, NoWordsFrame

# What a listener says to show they follow, by language; written without accents.
BACKCHANNELS: dict[str, tuple[str, ...]] = {
    "en": tuple(
        "uh huh, uhhuh, uh hum, mhm, mm hmm, mmhmm, mm hm, mmhm, hmm, hm, mm, mmm, um, "
        "uh, ah, oh, aha, yeah, yes, yep, yup, ya, okay, ok, right, sure, alright, "
        "all right, i see, got it, cool, great, good, nice, fine, exactly, true, "
        "perfect, sounds good, makes sense, thanks, thank you, wow, really".split(", ")
    ),
    "es": tuple(
        "si, aja, aha, ajam, mhm, mm, eh, ah, oh, claro, vale, ok, okay, bueno, ya, "
        "entiendo, exacto, perfecto, de acuerdo, correcto, muy bien, bien, dale, orale, "
        "ya veo, gracias, claro que si".split(", ")
    ),
}
# Words that stop a speaker, by language (without accents).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "wait stop no nope hold hang sorry excuse pardon what actually but hey listen "
        "moment second minute".split()
    ),
    "es": frozenset(
        "espera espere esperate para pare no perdon disculpa disculpe oiga oye momento "
        "pero que como alto basta segundo".split()
    ),
}
# A backchannel is a few words at most; more is the caller taking the floor.
MAX_BACKCHANNEL_WORDS = 5
# Pieces of speech this close together are one utterance (VAD splits "wait, no").
JOINED_PAUSE_SECS = 0.5
# Fewer unknown words than this, said briefly and without a stop word, are most likely a
# backchannel Whisper misheard ("mm-hmm" heard as "in a month", "sure" as "here").
MIN_INTERRUPTING_WORDS = 3


def _phrases() -> set[tuple[str, ...]]:
    return {tuple(p.split()) for phrases in BACKCHANNELS.values() for p in phrases}


_PHRASES = _phrases()
_LONGEST = max(len(p) for p in _PHRASES)
_STOP_WORDS = frozenset().union(*STOP_WORDS.values())


def _plain_words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation ("Mm-hmm." -> ["mm", "hmm"])."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^\w']+", " ", text).split()


def is_backchannel(text: str) -> bool:
    """Whether ``text`` is only acknowledgements ("Uh-huh.", "Okay, okay.", "Sí, claro.").

    Any other word ("wait", "no", "espera", "stop") makes it a real interruption, and so
    does silence (an empty transcript is not a backchannel, it is nothing).
    """
    words = _plain_words(text)
    if not words or len(words) > MAX_BACKCHANNEL_WORDS:
        return False
    return _phrased(words)


def lets_the_bot_talk(text: str) -> bool:
    """Whether brief speech over the bot, heard as ``text``, should leave it talking.

    A backchannel does; so do one or two words that are neither acknowledgements nor
    stop a speaker ("wait", "no", "sorry", "espera", "para", see ``STOP_WORDS``): said
    briefly over the bot they are far more often a misheard backchannel than a caller
    taking the floor, who starts with a stop word or goes on talking.
    """
    if is_backchannel(text):
        return True
    said = [w for w in text.split() if any(c.isalnum() for c in w)]  # "M-H-N" is one
    few = 0 < len(said) < MIN_INTERRUPTING_WORDS
    return few and not _STOP_WORDS.intersection(_plain_words(text))


def _phrased(words: list[str]) -> bool:
    # Can the words be cut into known phrases? (small: at most 5 words)
    reachable = [True] + [False] * len(words)
    for end in range(1, len(words) + 1):
        reachable[end] = any(
            reachable[end - n] and tuple(words[end - n : end]) in _PHRASES
            for n in range(1, min(_LONGEST, end) + 1)
        )
    return reachable[-1]


@dataclass(frozen=True)
class Overlap:
    """How caller speech over the bot is judged.

    Parameters:
        interrupt_secs: Speech over the bot still going on this long after its first
            sound stops the bot whatever it says: longer than a backchannel. (VAD
            reports the end of speech ``stop_secs`` after it, so speech shorter than
            this less ``stop_secs`` is judged by its words.) Pieces of speech apart
            by less than ``JOINED_PAUSE_SECS`` count as one ("wait, stop").
        transcript_wait_secs: After shorter speech ends, how long its transcript may
            take (a loaded server transcribes late); none by then, or one with no words
            (a cough, line noise: :class:`NoWordsFrame`), and the bot talks on.
    """

    interrupt_secs: float = 0.8
    transcript_wait_secs: float = 5.0


@dataclass
class _CallerTakesTheFloorFrame(SystemFrame):
    """Queued by the strategy to itself: start the caller's turn once this is dequeued."""


class OverlapUserTurnStartStrategy(BaseUserTurnStartStrategy):
    """Starts a turn on VAD speech, except over the bot, where a backchannel is let pass.

    While the bot is silent this is pipecat's ``VADUserTurnStartStrategy``. While it
    speaks, caller speech pauses it at once (:class:`BotPauseFrame`: the caller hears
    silence within the VAD's start time) and starts a turn (the pause becomes an
    interruption) once it has lasted ``Overlap.interrupt_secs``; speech that ends
    sooner is decided by its transcript: backchannel words (see
    :func:`lets_the_bot_talk`) resume the bot where it paused (:class:`BotResumeFrame`)
    and keep the words out of the LLM's context, anything else interrupts.
    """

    def __init__(self, *, overlap: Overlap | None = None, **kwargs):
        """Create the strategy with the given (or default) overlap settings."""
        super().__init__(**kwargs)
        self._overlap = overlap or Overlap()
        self._bot_speaking = False
        # Caller speech over the bot waiting for a verdict.
        self._undecided = False
        # Whether we paused the bot (and owe it a resume or an interruption).
        self._paused = False
        # The piece of it being spoken now (its start, wall time), or None between pieces.
        self._piece: float | None = None
        # When the last piece ended, and when the utterance of the pieces started.
        self._piece_ended = 0.0
        self._utterance = 0.0
        self._timer: asyncio.Task | None = None
        # An interruption on its way to us through the aggregator's queue.
        self._taking_floor = False

    async def handle_user_turn_started(self):
        """A turn started (by us or otherwise): nothing is left to judge; its interruption
        drops what was paused."""
        self._paused = self._taking_floor = False
        await self._forget()

    async def cleanup(self):
        """Stop any pending timer."""
        await self._forget()
        await super().cleanup()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Follow the bot's speech and judge the caller's."""
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            return await self._speech_started(frame)
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and self._piece is not None:
            await self._speech_stopped(frame)
        elif isinstance(frame, TranscriptionFrame) and self._undecided:
            await self._judge(frame.text)
            return ProcessFrameResult.STOP
        elif isinstance(frame, BotResumeFrame):  # resumed by someone else: nothing to judge
            self._paused = False
            await self._forget()
        elif isinstance(frame, _CallerTakesTheFloorFrame):
            if self._taking_floor:  # no turn started meanwhile
                logger.debug(f"{self}: the caller talks on over the bot; interrupting")
                await self.trigger_user_turn_started()
            return ProcessFrameResult.STOP
        elif isinstance(frame, NoWordsFrame) and self._undecided and self._piece is None:
            await self._forget()  # a cough, line noise: the bot plays on
            await self._resume()
        return ProcessFrameResult.CONTINUE

    async def _speech_started(self, frame: VADUserStartedSpeakingFrame) -> ProcessFrameResult:
        if not self._bot_speaking:
            await self.trigger_user_turn_started()
            return ProcessFrameResult.STOP
        self._piece = (frame.timestamp or time.time()) - frame.start_secs
        if self._piece - self._piece_ended > JOINED_PAUSE_SECS:
            self._utterance = self._piece  # a new utterance, not the next word of the last
        self._undecided = True
        if not self._paused:
            self._paused = True
            await self.push_frame(BotPauseFrame())
        self._arm_interruption()
        return ProcessFrameResult.STOP

    async def _speech_stopped(self, frame: VADUserStoppedSpeakingFrame) -> None:
        stopped = frame.timestamp or time.time()
        self._piece_ended, self._piece = stopped - frame.stop_secs, None
        if stopped >= self._utterance + self._overlap.interrupt_secs:
            # Long enough, though the timer had no turn to say so (a loaded event loop
            # hands us the start and the stop of speech together).
            await self._forget()
            await self._interrupt()
        else:
            self._arm(self._overlap.transcript_wait_secs, interrupt=False)

    async def _judge(self, text: str) -> None:
        if not lets_the_bot_talk(text):
            logger.debug(f"{self}: the caller interrupts the bot")
            await self.trigger_user_turn_started()
            return
        logger.debug(f"{self}: a backchannel; the bot talks on")
        await self.trigger_reset_aggregation()  # the words stay out of the context
        if self._piece is None:
            await self._forget()
            await self._resume()
        else:  # the caller already went on: judge what they say now on its own
            self._utterance = self._piece
            self._arm_interruption()

    def _arm_interruption(self) -> None:
        self._arm(self._utterance + self._overlap.interrupt_secs - time.time(), interrupt=True)

    def _arm(self, secs: float, *, interrupt: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.task_manager.create_task(
            self._expire(max(0.0, secs), interrupt), f"{self}::overlap"
        )

    async def _expire(self, secs: float, interrupt: bool) -> None:
        await asyncio.sleep(secs)
        self._timer = None
        if interrupt:
            await self._interrupt()
        else:  # no words came: it was noise
            await self._resume()
        self._undecided = False

    async def _interrupt(self) -> None:
        # Through the aggregator's queue, behind the pause it holds for us: started here
        # (a timer's task), the turn's interruption would be sent downstream at once and
        # reach the output before the pause, which would then hold the next reply.
        self._taking_floor = True
        await self.push_frame(_CallerTakesTheFloorFrame())

    async def _resume(self) -> None:
        if self._paused:
            self._paused = False
            await self.push_frame(BotResumeFrame())

    async def _forget(self) -> None:
        """Nothing left to judge; a turn that starts now interrupts whatever was paused."""
        self._undecided, self._piece = False, None
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            await self.task_manager.cancel_task(timer)
