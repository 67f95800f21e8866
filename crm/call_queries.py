"""Finding calls: the API's filters, and full-text transcript search (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Select, column, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Call, Utterance

TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_TOKENS = 8


@dataclass(frozen=True)
class CallFilters:
    """What to look for; every field is optional and they combine with AND."""

    start: datetime | None = None
    end: datetime | None = None
    outcomes: tuple[str, ...] = ()
    assistant: str | None = None
    campaign_id: str | None = None
    min_score: int | None = None
    max_score: int | None = None
    status: str | None = None
    direction: str | None = None
    lead_id: str | None = None
    sentiment: str | None = None
    search: str | None = None


def search_terms(raw: str) -> list[str]:
    """The words of a search (punctuation and query syntax dropped)."""
    return TOKEN.findall(raw.lower())[:MAX_TOKENS]


def _matching_lines(dialect: str, terms: list[str]) -> Select:
    """Utterance call ids whose text has every term (the last as a prefix: search as you type)."""
    if dialect == "sqlite":
        expression = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
        rowids = (
            text("SELECT rowid FROM utterances_fts WHERE utterances_fts MATCH :fts")
            .bindparams(fts=expression.strip())
            .columns(column("rowid", Integer))
        )
        return select(Utterance.call_id).where(Utterance.id.in_(rowids))
    simple = literal_column("'simple'::regconfig")  # a literal, so the planner uses the GIN index
    tsquery = " & ".join(terms[:-1] + [f"{terms[-1]}:*"])
    # Materialized: PostgreSQL misjudges how rare a word is and would otherwise walk every call
    # newest first, computing each transcript's tsvector; the GIN index finds the hits at once.
    hits = (
        select(Utterance.call_id)
        .where(func.to_tsvector(simple, Utterance.text).op("@@")(func.to_tsquery(simple, tsquery)))
        .cte("transcript_hits")
        .prefix_with("MATERIALIZED")
    )
    return select(hits.c.call_id)


def filtered(query: Select, filters: CallFilters, dialect: str) -> Select:
    """``query`` (over calls) narrowed by ``filters``."""
    conditions = []
    if filters.start:
        conditions.append(Call.created_at >= filters.start)
    if filters.end:
        conditions.append(Call.created_at < filters.end)
    if filters.outcomes:
        conditions.append(Call.outcome.in_(filters.outcomes))
    for column_, value in (
        (Call.assistant, filters.assistant),
        (Call.campaign_id, filters.campaign_id),
        (Call.status, filters.status),
        (Call.direction, filters.direction),
        (Call.lead_id, filters.lead_id),
        (Call.sentiment_label, filters.sentiment),
    ):
        if value:
            conditions.append(column_ == value)
    if filters.min_score is not None:
        conditions.append(Call.lead_score >= filters.min_score)
    if filters.max_score is not None:
        conditions.append(Call.lead_score <= filters.max_score)
    terms = search_terms(filters.search or "")
    if terms:
        conditions.append(Call.id.in_(_matching_lines(dialect, terms)))
    return query.where(*conditions)


async def find_calls(
    session: AsyncSession, filters: CallFilters, *, limit: int, offset: int
) -> tuple[list[Call], int]:
    """A page of matching calls, newest first, and how many match in all."""
    dialect = session.bind.dialect.name
    total = (
        await session.scalar(filtered(select(func.count()).select_from(Call), filters, dialect))
        or 0
    )
    rows = await session.scalars(
        filtered(select(Call), filters, dialect)
        .order_by(Call.created_at.desc(), Call.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total
