"""Lexicon sentiment for English and Spanish: word valences, negation, intensifiers."""

from __future__ import annotations

import math

from crm.analysis.text import words

# Valence −3..3 per folded word (accents removed). Kept small and sales-oriented.
VALENCE: dict[str, float] = {
    # English, positive
    "good": 2,
    "great": 3,
    "excellent": 3,
    "perfect": 3,
    "awesome": 3,
    "amazing": 3,
    "wonderful": 3,
    "nice": 2,
    "love": 3,
    "like": 1.5,
    "happy": 2,
    "glad": 2,
    "interested": 2,
    "interesting": 1.5,
    "yes": 1,
    "yeah": 1,
    "sure": 1.5,
    "absolutely": 2,
    "definitely": 2,
    "fantastic": 3,
    "fine": 1,
    "thanks": 1.5,
    "thank": 1.5,
    "helpful": 2,
    "appreciate": 2,
    "cool": 1.5,
    "okay": 0.5,
    "ok": 0.5,
    "best": 2,
    "better": 1.5,
    "easy": 1.5,
    "fair": 1,
    "affordable": 2,
    "cheap": 1,
    "deal": 1,
    "pleased": 2,
    "satisfied": 2,
    "recommend": 2,
    "works": 1,
    "brilliant": 3,
    "lovely": 2.5,
    # English, negative
    "bad": -2,
    "terrible": -3,
    "awful": -3,
    "horrible": -3,
    "hate": -3,
    "angry": -3,
    "annoyed": -2,
    "annoying": -2,
    "expensive": -1.5,
    "problem": -1.5,
    "problems": -1.5,
    "issue": -1,
    "broken": -2,
    "worst": -3,
    "worse": -2,
    "disappointed": -2.5,
    "unhappy": -2.5,
    "upset": -2,
    "frustrated": -2.5,
    "scam": -3,
    "spam": -2,
    "complaint": -2,
    "useless": -2.5,
    "slow": -1,
    "never": -0.5,
    "waste": -2,
    "stop": -1,
    "rude": -2.5,
    "sucks": -2.5,
    "ridiculous": -2,
    "poor": -1.5,
    "wrong": -1.5,
    "cancel": -1.5,
    "difficult": -1,
    "confusing": -1.5,
    "unfortunately": -1,
    "sorry": -0.5,
    # Spanish, positive
    "bien": 1.5,
    "bueno": 1.5,
    "buena": 1.5,
    "excelente": 3,
    "perfecto": 3,
    "perfecta": 3,
    "genial": 3,
    "estupendo": 3,
    "maravilloso": 3,
    "encanta": 3,
    "gusta": 2,
    "interesa": 2,
    "interesado": 2,
    "interesada": 2,
    "interesante": 1.5,
    "si": 1,
    "claro": 1.5,
    "gracias": 1.5,
    "vale": 1,
    "feliz": 2,
    "contento": 2,
    "contenta": 2,
    "util": 2,
    "facil": 1.5,
    "barato": 1,
    "economico": 1.5,
    "mejor": 1.5,
    "fantastico": 3,
    "increible": 2.5,
    "agradezco": 2,
    "listo": 1,
    "acuerdo": 1,
    "satisfecho": 2,
    "satisfecha": 2,
    "recomiendo": 2,
    "amable": 2,
    # Spanish, negative
    "mal": -2,
    "malo": -2,
    "mala": -2,
    "pesimo": -3,
    "pesima": -3,
    "odio": -3,
    "enojado": -3,
    "enojada": -3,
    "molesto": -2,
    "molesta": -2,
    "caro": -1.5,
    "cara": -1,
    "costoso": -1.5,
    "problema": -1.5,
    "problemas": -1.5,
    "queja": -2,
    "reclamo": -2,
    "estafa": -3,
    "peor": -2,
    "decepcionado": -2.5,
    "decepcionada": -2.5,
    "nunca": -0.5,
    "lento": -1,
    "inutil": -2.5,
    "harto": -2.5,
    "harta": -2.5,
    "cancelar": -1.5,
    "dificil": -1,
    "lamentablemente": -1,
    "desgraciadamente": -1,
    "fatal": -3,
    "basura": -3,
    "frustrado": -2.5,
}
NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "dont",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "wasn't",
        "aren't",
        "won't",
        "can't",
        "cannot",
        "nothing",
        "without",
        "nunca",
        "jamas",
        "tampoco",
        "ni",
        "sin",
        "nada",
    }
)
INTENSIFIERS: dict[str, float] = {
    "very": 1.3,
    "really": 1.3,
    "so": 1.2,
    "extremely": 1.5,
    "super": 1.4,
    "totally": 1.3,
    "quite": 1.1,
    "muy": 1.3,
    "bastante": 1.2,
    "realmente": 1.3,
    "totalmente": 1.3,
    "demasiado": 1.3,
    "tan": 1.2,
    "sumamente": 1.5,
}
NEGATION_SPAN = 3  # words after a negator whose valence flips
ALPHA = 6.0  # normalisation: score = s / sqrt(s² + ALPHA), as VADER does


def sentiment(text: str) -> float:
    """The sentiment of one line, −1..1 (0 when no word carries sentiment)."""
    total = 0.0
    negate_left = 0
    boost = 1.0
    for word in words(text):
        if word in NEGATORS:
            # "no" alone ("no.", "no, thanks") is itself a mild refusal.
            total += VALENCE.get(word, -0.5) if word == "no" else 0.0
            negate_left = NEGATION_SPAN
            continue
        if word in INTENSIFIERS:
            boost = INTENSIFIERS[word]
            continue
        value = VALENCE.get(word, 0.0) * boost
        if negate_left > 0 and value:
            value = -0.75 * value
        total += value
        boost = 1.0
        negate_left = max(0, negate_left - 1)
    return round(total / math.sqrt(total * total + ALPHA), 3) if total else 0.0


def call_sentiment(lines: list[str]) -> float | None:
    """The caller's sentiment over a call: the mean over lines that carry any (None: no lines)."""
    if not lines:
        return None
    scores = [sentiment(line) for line in lines]
    charged = [s for s in scores if s]
    return round(sum(charged) / len(charged), 3) if charged else 0.0
