"""Keyword rules for English and Spanish: signals, objections, competitors, BANT, keywords."""

from __future__ import annotations

import re
from collections import Counter

from crm.analysis.result import Bant, Signals
from crm.analysis.text import clauses, fold, has_phrase, words
from crm.analysis.transcript import Line

PRICE = (
    "how much",
    "price",
    "prices",
    "pricing",
    "cost",
    "costs",
    "fee",
    "fees",
    "rate",
    "rates",
    "quote",
    "monthly",
    "per month",
    "discount",
    "cuanto",
    "cuanto cuesta",
    "cuanto sale",
    "precio",
    "precios",
    "costo",
    "coste",
    "tarifa",
    "tarifas",
    "cuota",
    "mensualidad",
    "al mes",
    "valor",
    "descuento",
    "cotizacion",
)
INFORMATION = (
    "do you have",
    "can you tell",
    "could you tell",
    "tell me",
    "what is",
    "what are",
    "what's",
    "how does",
    "how do",
    "how long",
    "when",
    "where",
    "which",
    "is there",
    "are there",
    "information",
    "details",
    "available",
    "availability",
    "include",
    "includes",
    "coverage",
    "speed",
    "opening hours",
    "tienen",
    "tiene",
    "puede decirme",
    "me puede",
    "que es",
    "cual",
    "cuales",
    "como funciona",
    "cuando",
    "donde",
    "hay",
    "informacion",
    "detalles",
    "disponible",
    "disponibilidad",
    "incluye",
    "horario",
    "horarios",
    "cobertura",
    "velocidad",
)
AFFIRMATIVE = (
    "yes",
    "yeah",
    "yep",
    "sure",
    "of course",
    "okay",
    "ok",
    "sounds good",
    "great",
    "perfect",
    "absolutely",
    "definitely",
    "that works",
    "let's do it",
    "si",
    "claro",
    "por supuesto",
    "vale",
    "perfecto",
    "de acuerdo",
    "me parece bien",
    "genial",
    "dale",
    "bueno",
    "listo",
    "esta bien",
)
OBJECTIONS: dict[str, tuple[str, ...]] = {
    "price": (
        "too expensive",
        "expensive",
        "can't afford",
        "cannot afford",
        "too much",
        "cheaper",
        "out of my budget",
        "caro",
        "muy caro",
        "costoso",
        "no me alcanza",
        "no puedo pagar",
        "mas barato",
        "fuera de mi presupuesto",
    ),
    "timing": (
        "not now",
        "not a good time",
        "busy right now",
        "maybe later",
        "later",
        "next year",
        "ahora no",
        "mas adelante",
        "no tengo tiempo",
        "estoy ocupado",
        "estoy ocupada",
        "otro momento",
    ),
    "need": (
        "don't need",
        "do not need",
        "no need",
        "not necessary",
        "no lo necesito",
        "no necesito",
        "no me hace falta",
        "no hace falta",
    ),
    "competitor": (
        "already have",
        "already use",
        "another provider",
        "another company",
        "ya tengo",
        "ya uso",
        "ya tenemos",
        "otra compania",
        "otro proveedor",
        "otra empresa",
    ),
    "trust": (
        "scam",
        "not sure",
        "don't trust",
        "sounds fishy",
        "estafa",
        "no confio",
        "no estoy seguro",
        "no estoy segura",
    ),
    "authority": (
        "talk to my wife",
        "talk to my husband",
        "ask my boss",
        "ask my partner",
        "check with my",
        "consultar con",
        "hablar con mi esposa",
        "hablar con mi esposo",
        "preguntar a mi jefe",
        "consultarlo con",
    ),
}
BUDGET = re.compile(
    r"([$€£]\s?\d[\d.,]*|\d[\d.,]*\s?(dollars|usd|euros?|eur|pesos|soles|k\b)|budget|presupuesto)"
)
AUTHORITY_SELF = (
    "i decide",
    "i'm the owner",
    "i am the owner",
    "my decision",
    "i make the decisions",
    "i'm the manager",
    "soy el dueño",
    "soy la dueña",
    "soy el dueno",
    "yo decido",
    "soy el gerente",
    "soy la gerente",
    "yo tomo las decisiones",
)
NEED = (
    "i need",
    "we need",
    "looking for",
    "i want",
    "we want",
    "interested in",
    "necesito",
    "necesitamos",
    "busco",
    "estoy buscando",
    "quiero",
    "queremos",
    "me interesa",
)
TIMELINE = (
    "today",
    "tomorrow",
    "this week",
    "next week",
    "this month",
    "next month",
    "asap",
    "as soon as possible",
    "right away",
    "immediately",
    "within",
    "hoy",
    "mañana",
    "manana",
    "esta semana",
    "la proxima semana",
    "la semana que viene",
    "este mes",
    "el proximo mes",
    "lo antes posible",
    "cuanto antes",
    "de inmediato",
    "en unos dias",
)
STOPWORDS = frozenset(
    "a an the and or but if then so to of in on at for with from by about as is are was "
    "were be been i you he she it we they me my your our their this that these those what "
    "which who whom how when where why do does did have has had can could would should "
    "will just not no yes yeah okay ok hi hello thanks thank please there here it's i'm "
    "i'd i'll that's don't can't want like know think el la los las un una unos unas y o "
    "pero si que de del al en con por para como es son fue ser estar esta este esto estos "
    "estas eso ese esa yo tu usted el ella nosotros ellos me te se nos le les mi su sus lo "
    "ya muy mas hola gracias bueno pues entonces tambien porque cuando donde quiero tengo "
    "tiene hay puede puedo much many would could also really sure right well some more "
    "your it's tell does need sounds great good fine right maybe something anything cuanto "
    "cuesta necesito seria gustaria".split()
)
EN_MARKERS = frozenset("the and you is are what how i it to have do".split())
ES_MARKERS = frozenset("el la que de y es los por para quiero tengo usted como".split())


def _matches(line: Line, phrases: tuple[str, ...]) -> bool:
    return has_phrase(fold(line.text), phrases) is not None


def count_signals(caller: list[Line]) -> Signals:
    """Count the caller's turns, words, price questions, information requests and yeses."""
    signals = Signals(
        caller_turns=len(caller), caller_words=sum(len(words(line.text)) for line in caller)
    )
    for line in caller:
        if _matches(line, PRICE):
            signals.price_questions += 1
        elif _matches(line, INFORMATION) or line.text.rstrip().endswith("?"):
            signals.information_requests += 1
        if _affirmative(line):
            signals.positive_answers += 1
    return signals


def _affirmative(line: Line) -> bool:
    # A yes opens the answer ("Yes, please"); later in a sentence "si" is mostly Spanish "if".
    return has_phrase(" ".join(words(line.text)[:3]), AFFIRMATIVE) is not None


def objections(caller: list[Line]) -> list[str]:
    """The kinds of objection the caller raised, in the order of :data:`OBJECTIONS`."""
    text = fold("\n".join(line.text for line in caller))
    return [kind for kind, phrases in OBJECTIONS.items() if has_phrase(text, phrases)]


def competitors(caller: list[Line], names: tuple[str, ...]) -> list[str]:
    """The configured competitor names the caller mentioned."""
    said = set(words("\n".join(line.text for line in caller)))
    text = fold(" ".join(line.text for line in caller))
    return [name for name in names if (fold(name) in said) or (" " in name and fold(name) in text)]


def keywords(caller: list[Line], limit: int = 8) -> list[str]:
    """The caller's most frequent content words."""
    counts = Counter(
        w
        for line in caller
        for w in words(line.text)
        if len(w) > 3 and w not in STOPWORDS and not w.isdigit()
    )
    return [w for w, _ in counts.most_common(limit)]


def bant(caller: list[Line]) -> Bant:
    """Budget, authority, need and timeline, in the caller's words (the clause, ≤200 characters)."""
    found = Bant()
    for clause in (c for line in caller for c in clauses(line.text)):
        folded = fold(clause)
        snippet = clause[:200]
        if found.budget is None and BUDGET.search(folded):
            found.budget = snippet
        if found.authority is None:
            if has_phrase(folded, AUTHORITY_SELF):
                found.authority = f"decision maker: {snippet}"
            elif has_phrase(folded, OBJECTIONS["authority"]):
                found.authority = f"needs approval: {snippet}"
        if found.need is None and has_phrase(folded, NEED, affirmed=True):
            found.need = snippet
        if found.timeline is None and has_phrase(folded, TIMELINE):
            found.timeline = snippet
    return found


def language(caller: list[Line]) -> str | None:
    """``en`` or ``es`` by common words, or None when it cannot tell."""
    said = Counter(words(" ".join(line.text for line in caller)))
    en = sum(n for w, n in said.items() if w in EN_MARKERS)
    es = sum(n for w, n in said.items() if w in ES_MARKERS)
    if en == es:
        return None
    return "en" if en > es else "es"
