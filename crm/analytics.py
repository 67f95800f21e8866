"""The analytics summary: call volumes, answer and conversion rates, outcomes, scores, hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.analysis.result import OUTCOMES
from crm.models import Call, Lead
from crm.scoring import ScoringConfig

UNREACHED = ("no_answer", "voicemail")


def _period_starts(now: datetime, zone: ZoneInfo) -> dict[str, datetime]:
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": midnight,
        "week": midnight - timedelta(days=local.weekday()),
        "month": midnight.replace(day=1),
    }


def _scoped(query: Select, assistant: str | None, campaign: str | None) -> Select:
    if assistant:
        query = query.where(Call.assistant == assistant)
    if campaign:
        query = query.where(Call.campaign_id == campaign)
    return query


def _hour_bucket(dialect: str):
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", Call.created_at)  # stored in UTC
    return func.date_trunc("hour", func.timezone("UTC", Call.created_at))


async def summary(
    session: AsyncSession,
    *,
    now: datetime,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    scoring: ScoringConfig,
    assistant: str | None = None,
    campaign: str | None = None,
) -> dict[str, Any]:
    """Every dashboard KPI for calls created in [start, end), plus today, this week, this month."""
    periods = {}
    for name, since in _period_starts(now, zone).items():
        periods[name] = (
            await session.scalar(
                _scoped(select(func.count()).select_from(Call), assistant, campaign).where(
                    Call.created_at >= since
                )
            )
            or 0
        )
    in_range = (Call.created_at >= start, Call.created_at < end)
    answered = Call.answered_at.is_not(None) & ~func.coalesce(Call.outcome, "").in_(UNREACHED)
    row = (
        await session.execute(
            _scoped(
                select(
                    func.count(),
                    func.count().filter(Call.ended_at.is_not(None)),
                    func.count().filter(answered),
                    func.avg(Call.duration_seconds).filter(answered),
                    func.avg(Call.sentiment_score),
                    func.count().filter(Call.outcome == "converted"),
                    func.avg(Call.lead_score),
                )
                .select_from(Call)
                .where(*in_range),
                assistant,
                campaign,
            )
        )
    ).one()
    total, ended, answered_count, avg_duration, avg_sentiment, converted, avg_score = row
    outcomes = dict(
        (
            await session.execute(
                _scoped(
                    select(Call.outcome, func.count())
                    .where(*in_range, Call.outcome.is_not(None))
                    .group_by(Call.outcome),
                    assistant,
                    campaign,
                )
            )
        ).all()
    )
    return {
        "range": {"from": start.isoformat(), "to": end.isoformat(), "timezone": str(zone)},
        "calls": {**periods, "inRange": total},
        "answered": answered_count,
        "answerRate": round(answered_count / ended, 4) if ended else None,
        "averageDurationSeconds": round(float(avg_duration), 1)
        if avg_duration is not None
        else None,
        "averageSentiment": round(float(avg_sentiment), 3) if avg_sentiment is not None else None,
        "averageScore": round(float(avg_score), 1) if avg_score is not None else None,
        "conversions": converted,
        "conversionRate": round(converted / answered_count, 4) if answered_count else None,
        "outcomes": {outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        "scoreDistribution": await _scores(session, scoring),
        "callsByHour": await _by_hour(session, zone, in_range, assistant, campaign),
    }


async def _scores(session: AsyncSession, scoring: ScoringConfig) -> dict[str, Any]:
    # By score under the current bands (a stored band may predate a change of scoring file).
    # Grouped by label: PostgreSQL does not match repeated expressions with bound parameters.
    band = case(
        *((Lead.score.between(b.min, b.max), b.name) for b in scoring.bands), else_=None
    ).label("band")
    bands = dict((await session.execute(select(band, func.count()).group_by(band))).all())
    smaller = func.min if session.bind.dialect.name == "sqlite" else func.least
    bucket = smaller(Lead.score // 10, 9).label("bucket")
    buckets = dict((await session.execute(select(bucket, func.count()).group_by(bucket))).all())
    return {
        "bands": [
            {
                "band": b.name,
                "label": b.label,
                "min": b.min,
                "max": b.max,
                "leads": bands.get(b.name, 0),
            }
            for b in scoring.bands
        ],
        "histogram": [
            {"from": i * 10, "to": i * 10 + 9 if i < 9 else 100, "leads": buckets.get(i, 0)}
            for i in range(10)
        ],
    }


async def _by_hour(
    session: AsyncSession,
    zone: ZoneInfo,
    in_range: tuple,
    assistant: str | None,
    campaign: str | None,
) -> list[dict[str, int]]:
    """Calls per local hour of the day: bucketed by UTC hour, then moved into ``zone``."""
    bucket = _hour_bucket(session.bind.dialect.name).label("hour")
    rows = (
        await session.execute(
            _scoped(
                select(bucket, func.count()).where(*in_range).group_by(bucket), assistant, campaign
            )
        )
    ).all()
    hours = [0] * 24
    for when, count in rows:
        if isinstance(when, str):
            when = datetime.fromisoformat(when + ":00+00:00")
        elif when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo("UTC"))
        hours[when.astimezone(zone).hour] += count
    return [{"hour": hour, "calls": count} for hour, count in enumerate(hours)]
