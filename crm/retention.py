"""Retention: transcripts, recordings and webhook payloads older than N days are purged."""

from __future__ import annotations

from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import delete, select, update

from crm.db import Database
from crm.models import Call, Utterance, WebhookDelivery, utcnow
from crm.recordings import NO_RECORDING, RecordingStorage


async def purge_old(
    db: Database,
    days: int,
    *,
    recordings: RecordingStorage | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Delete transcript lines and recordings of calls that ended more than ``days`` ago.

    Recording files go first, then the rows that point at them: a sweep cut short
    between the two finds the same calls next time. Settled webhook deliveries (which
    carry transcripts) of that age go too. Calls keep their analysis (outcome,
    sentiment, score), so analytics stay whole. ``days <= 0`` keeps everything.
    """
    if days <= 0:
        return {"utterances": 0, "recordings": 0, "webhooks": 0}
    cutoff = (now or utcnow()) - timedelta(days=days)
    old_calls = select(Call.id).where(Call.ended_at < cutoff).scalar_subquery()
    async with db.session() as session:
        keys = list(
            await session.scalars(
                select(Call.recording_key).where(
                    Call.ended_at < cutoff, Call.recording_key.is_not(None)
                )
            )
        )
    if keys and recordings is not None:
        await recordings.delete(keys)
    async with db.session() as session:
        lines = await session.execute(delete(Utterance).where(Utterance.call_id.in_(old_calls)))
        forgotten = await session.execute(
            update(Call)
            .where(
                Call.ended_at < cutoff,
                Call.recording_url.is_not(None) | Call.recording_key.is_not(None),
            )
            .values(NO_RECORDING)
        )
        hooks = await session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.created_at < cutoff, WebhookDelivery.status != "pending"
            )
        )
    counts = {
        "utterances": lines.rowcount,
        "recordings": forgotten.rowcount,
        "webhooks": hooks.rowcount,
    }
    if any(counts.values()):
        logger.info(f"retention ({days} days): purged {counts}")
    return counts
