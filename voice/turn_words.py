"""Whether a caller's transcribed words read as a finished sentence: a second end-of-turn view."""

from __future__ import annotations

import re
import unicodedata

from loguru import logger

from voice.dictation import DictationUserTurnStopStrategy

# Words a finished sentence almost never ends on: it goes on after them ("I'd like to",
# "for my", "and the"). Only those: a word that ends short answers ("Yes, I do.", "Thank
# you.", "Hold on.", "Sí.", "¿Qué?", "para mí") is not one, whatever it usually does.
CONTINUING: dict[str, frozenset[str]] = {
    "en": frozenset(
        "a an the to and or but because of for with from at by into than as if my your our "
        "their his her its i i'm i'd i'll we're they're you're um uh er erm".split()
    ),
    "es": frozenset(
        "y e o u pero porque de del en con por para a al el la los las un una unos unas mis "
        "tus su sus eh".split()
    ),
}


def _plain(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in word if not unicodedata.combining(c)).replace("’", "'")


_CONTINUING = frozenset(_plain(w) for words in CONTINUING.values() for w in words)


def reads_finished(text: str) -> bool:
    """Whether ``text`` ends as a sentence does: a full stop, "?" or "!" after a word that
    does not leave it hanging ("... for next Tuesday." yes; "I would like to." no;
    "So, um..." no). Whisper punctuates what it hears; a trailing "..." is speech that
    trailed off.
    """
    text = text.strip()
    if not text or text.endswith("...") or text.endswith("…") or text[-1] not in ".?!":
        return False
    words = re.findall(r"[\w'’]+", text)
    if not words:
        return False
    return _plain(words[-1]) not in _CONTINUING


class WordsUserTurnStopStrategy(DictationUserTurnStopStrategy):
    """Smart-turn's end of turn, with the caller's transcribed words as a second opinion.

    Smart-turn hears only sound, and on our callers' voices it told a pause
    mid-sentence from the end of a turn no better than chance (``bench/turn_verdicts.py``);
    Whisper's punctuated transcription of the same speech did. So the words decide
    when they can: a pause smart-turn heard as mid-sentence still ends the turn at
    once when the words read finished (:func:`reads_finished`), and one it heard as
    the end waits ``pause_secs`` (the caller going on cancels it) when they do not
    ("I would like to", "My name..."). A caller reading something out still gets the
    dictation pause.
    """

    def __init__(self, *, trust_words: bool = True, words_pause_secs: float = 1.2, **kwargs):
        """Create the strategy.

        Args:
            trust_words: Let the words decide as above; False: smart-turn alone.
            words_pause_secs: Silence after words that do not read finished before the
                turn ends anyway (``TurnTaking.max_pause_secs``).
            **kwargs: Passed to ``DictationUserTurnStopStrategy``.
        """
        super().__init__(**kwargs)
        self._trust_words = trust_words
        self._words_pause_secs = words_pause_secs

    def pause_secs(self) -> float:
        """The dictation pause, or the longest pause after words that do not read finished."""
        pause = super().pause_secs()
        if self._trust_words and not reads_finished(self._text):
            pause = max(pause, self._words_pause_secs)
        return pause

    async def _maybe_trigger_user_turn_stopped(self):
        if (
            self._trust_words
            and not self._turn_complete
            and self._vad_stopped
            and not self._vad_user_speaking
            and self._transcript_finalized
            and reads_finished(self._text)
        ):
            logger.debug(f"{self}: smart-turn would wait, but the words read finished")
            self._turn_complete = True
        await super()._maybe_trigger_user_turn_stopped()
