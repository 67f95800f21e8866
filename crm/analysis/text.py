"""Text normalisation shared by the deterministic analysers: accents folded, words split."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9ñ$€]+(?:'[a-z]+)?")


def fold(text: str) -> str:
    """Lower case without accents (``¿Cuánto?`` → ``¿cuanto?``), keeping ñ."""
    text = text.lower().replace("ñ", "\0")
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    return stripped.replace("\0", "ñ")


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return WORD.findall(fold(text))


NEGATED_BY = ("no", "not", "don't", "never", "nunca", "ni")
CLAUSE = re.compile(r"[.!?;,\n¿¡]+")


def has_phrase(
    folded: str, phrases: tuple[str, ...] | frozenset[str], *, affirmed: bool = False
) -> str | None:
    """The first phrase found in already-folded text on word boundaries, if any.

    With ``affirmed``, a phrase right after a negator ("no me interesa") does not count.
    """
    padded = f" {' '.join(WORD.findall(folded))} "
    for phrase in phrases:
        start = padded.find(f" {phrase} ")
        while start >= 0:
            before = padded[:start].split()[-1:] or [""]
            if not (affirmed and before[0] in NEGATED_BY):
                return phrase
            start = padded.find(f" {phrase} ", start + 1)
    return None


def clauses(text: str) -> list[str]:
    """The clauses of a line (split at punctuation), stripped, non-empty."""
    return [part.strip() for part in CLAUSE.split(text) if part.strip()]
