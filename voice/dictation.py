"""Dictation: a caller reading out a number, an email or a spelling gets longer pauses."""

from __future__ import annotations

import asyncio
import copy
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

# Digits said as words, by language (without accents).
NUMBER_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "zero oh one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty "
        "seventy eighty ninety hundred thousand double triple".split()
    ),
    "es": frozenset(
        "cero uno una dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce "
        "quince dieciseis diecisiete dieciocho diecinueve veinte veintiuno veintidos veintitres "
        "veinticuatro veinticinco veintiseis veintisiete veintiocho veintinueve treinta "
        "cuarenta cincuenta sesenta setenta ochenta noventa cien ciento doscientos trescientos "
        "cuatrocientos quinientos seiscientos setecientos ochocientos novecientos mil doble "
        "triple".split()
    ),
}
# Words that join the parts of an email, a web address or a reference.
JOINERS: dict[str, frozenset[str]] = {
    "en": frozenset("at dot dash hyphen underscore slash point".split()),
    "es": frozenset("arroba punto guion bajo barra".split()),
}
# Joiners only an address has ("at" is also in "Tuesday at 10"), and how an address ends.
ADDRESS_JOINERS: dict[str, frozenset[str]] = {
    "en": frozenset("dot underscore".split()),
    "es": frozenset("punto arroba guion".split()),
}
DOMAIN_ENDINGS = frozenset("com org net edu gov io co es mx ar cl uk us info biz".split())
# An address joiner this many words back means an address is still being read out.
ADDRESS_WORDS = 6
# What the bot asks for when it wants something read out.
ASKS: dict[str, tuple[str, ...]] = {
    "en": tuple(
        "phone, number, email, e-mail, e mail, spell, card, reference, zip, postal code, "
        "postcode, confirmation code".split(", ")
    ),
    "es": tuple(
        "telefono, numero, correo, email, e-mail, deletre, tarjeta, referencia, "
        "codigo postal, dni, documento".split(", ")
    ),
}
# Fewer digits than this at the end ("Tuesday at 10") is a time or an amount, not dictation.
MIN_DICTATED_DIGITS = 3

_NUMBER_WORDS = frozenset().union(*NUMBER_WORDS.values())
_JOINERS = frozenset().union(*JOINERS.values())
_ADDRESS_JOINERS = frozenset().union(*ADDRESS_JOINERS.values())
_ASKS = tuple(a for asks in ASKS.values() for a in asks)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    """Words with their inner marks ("555-1234", "j.smith@gmail"), edges' punctuation cut."""
    return [t for t in (w.strip(".,;:!?¿¡\"'()") for w in _plain(text).split()) if t]


def _digits_said(token: str) -> int | None:
    """How many digits ``token`` says ("555-12" 5, "five" 1); None if it is not a number."""
    if re.fullmatch(r"[\d\-./]+", token) and any(c.isdigit() for c in token):
        return sum(c.isdigit() for c in token)
    return 1 if token in _NUMBER_WORDS else None


def _spelled(token: str) -> bool:
    """A spelled letter, or letters: "J", "j-o-h-n", "J.O.H.N"."""
    return bool(re.fullmatch(r"[a-zñ]([\-.][a-zñ])*", token))


def ends_in_dictation(text: str) -> bool:
    """Whether ``text`` stops in the middle of something read out.

    True when it ends in digits (at least ``MIN_DICTATED_DIGITS`` in the numbers at its
    end: "555 123", "five five five"), a joiner of an address ("at", "dot", "arroba",
    "punto"), a spelled letter ("J-O-H"), or an address not finished by its domain
    ("john dot smith at gmail", "john.smith", "john@gmail").
    """
    tokens = _tokens(text)
    if not tokens:
        return False
    last = tokens[-1]
    if last in _JOINERS or _spelled(last) or _unfinished_address(tokens):
        return True
    digits = 0
    for token in reversed(tokens):
        said = _digits_said(token)
        if said is None:
            break
        digits += said
    return digits >= MIN_DICTATED_DIGITS


def _unfinished_address(tokens: list[str]) -> bool:
    """An email being read out whose domain has not come yet."""
    last = tokens[-1]
    dotted = re.fullmatch(r"[a-z0-9_\-]+(\.[a-z0-9_\-]+)+", last) and re.search("[a-z]", last)
    if "@" in last or dotted:
        return last.rsplit(".", 1)[-1] not in DOMAIN_ENDINGS or "." not in last
    recent = tokens[-ADDRESS_WORDS:]
    if not _ADDRESS_JOINERS.intersection(recent):
        return False
    return not (len(tokens) > 1 and tokens[-2] in _ADDRESS_JOINERS and last in DOMAIN_ENDINGS)


def asks_for_dictation(text: str) -> bool:
    """Whether the bot's line ends by asking for a number, an email or a spelling."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", _plain(text).strip()) if s]
    if not sentences:
        return False
    last = f" {sentences[-1]}"
    return any(re.search(rf"\W{re.escape(ask)}", last) for ask in _ASKS)


def last_assistant_line(context: LLMContext) -> str:
    """The text of the last assistant message in ``context`` ("" if none)."""
    for message in reversed(context.get_messages()):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content: Any = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        return ""
    return ""


@dataclass(frozen=True)
class Dictation:
    """How long a dictating caller may pause.

    Parameters:
        pause_secs: Silence (from the end of their speech) the bot waits for before
            answering a caller whose words so far end mid-dictation, or who was just
            asked to read something out.
    """

    pause_secs: float = 2.0


def _ended_before(frame: TranscriptionFrame, moment: float) -> bool:
    """Whether the speech ``frame`` transcribes (``voice.stt.SpeechSegment``) ended before."""
    ended = getattr(frame.result, "ended_at", None)
    return ended is not None and ended.timestamp() <= moment


class DictationUserTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart-turn end of turn, held back while the caller is reading something out.

    A caller giving a phone number pauses between its groups, and smart-turn (rightly,
    for speech) hears "my number is 555 123" as finished. When the turn's words so far
    end mid-dictation (:func:`ends_in_dictation`), or the bot's last line asked for a
    number, an email or a spelling (:func:`asks_for_dictation`), the turn ends only
    after ``Dictation.pause_secs`` of silence; the caller speaking again cancels it.
    """

    def __init__(
        self,
        *,
        dictation: Dictation | None = None,
        last_bot_line: Callable[[], str] = lambda: "",
        **kwargs,
    ):
        """Create the strategy.

        Args:
            dictation: Pause settings (the defaults when None).
            last_bot_line: What the bot said last (the question the caller answers).
            **kwargs: Passed to ``TurnAnalyzerUserTurnStopStrategy`` (``turn_analyzer``).
        """
        super().__init__(**kwargs)
        self._dictation = dictation or Dictation()
        self._last_bot_line = last_bot_line
        self._heard: list[str] = []
        self._speech_ended = 0.0
        self._went_on = 0.0  # when the caller's latest speech started (wall time)
        self._hold: asyncio.Task | None = None

    async def handle_user_turn_started(self):
        """A new turn: nothing heard yet."""
        await self._release_nothing()
        await super().handle_user_turn_started()

    async def handle_user_turn_stopped(self):
        """The turn ended (here or elsewhere)."""
        await self._release_nothing()
        await super().handle_user_turn_stopped()

    async def cleanup(self):
        """Drop a pending hold."""
        await self._release_nothing()
        await super().cleanup()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Note the turn's words and when the caller stopped, then decide as smart-turn does.

        A final transcription of speech that ended before the caller went on is not
        final for the turn: it was made as they started again (the STT could not know),
        and reaches us after their new speech did (transcriptions queue behind voice
        activity). Taken as final, it ended the turn on its words at the next pause,
        before the words said after it were transcribed ("That's all," | "thank you.").
        """
        if isinstance(frame, TranscriptionFrame):
            self._heard.append(frame.text)
            if frame.finalized and _ended_before(frame, self._went_on):
                frame = copy.copy(frame)
                frame.finalized = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._cancel_hold()
            self._went_on = (frame.timestamp or time.time()) - frame.start_secs
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speech_ended = (frame.timestamp or time.time()) - frame.stop_secs
        return await super().process_frame(frame)

    def dictating(self) -> bool:
        """Whether the caller seems to be reading something out."""
        heard = " ".join(self._heard)
        return ends_in_dictation(heard) or asks_for_dictation(self._last_bot_line())

    def pause_secs(self) -> float:
        """Silence after the caller's speech before their turn may end (0: at once).

        The dictation pause while they read something out; subclasses add reasons.
        """
        return self._dictation.pause_secs if self.dictating() else 0.0

    async def trigger_user_turn_stopped(self, *, enable_user_speaking_frames: bool | None = None):
        """End the turn, or (dictating) end it after the longer pause unless they go on."""
        if self._hold is not None:
            return
        ended = self._speech_ended or time.time()
        pause = self.pause_secs()
        wait = ended + pause - time.time()
        if pause <= 0 or wait <= 0:
            await super().trigger_user_turn_stopped(
                enable_user_speaking_frames=enable_user_speaking_frames
            )
            return
        logger.debug(f"{self}: the caller may go on; waiting {wait:.1f}s more")
        self._hold = self.task_manager.create_task(
            self._stop_after(wait, enable_user_speaking_frames), f"{self}::dictation"
        )

    async def _stop_after(self, secs: float, enable_user_speaking_frames: bool | None) -> None:
        await asyncio.sleep(secs)
        self._hold = None
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )

    async def _cancel_hold(self) -> None:
        hold, self._hold = self._hold, None
        if hold is not None and hold is not asyncio.current_task():
            await self.task_manager.cancel_task(hold)

    async def _release_nothing(self) -> None:
        await self._cancel_hold()
        self._heard = []
        self._speech_ended = 0.0
