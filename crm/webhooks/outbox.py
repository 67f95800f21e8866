"""Queueing webhooks in the database, in the transaction that caused them (an outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import WebhookDelivery, utcnow


@dataclass(frozen=True)
class WebhookSettings:
    """Where webhooks go and how they are sent.

    Parameters:
        urls: Every event goes to each of these (WEBHOOK_URLS).
        secret: HMAC-SHA256 key for the signature header (WEBHOOK_SECRET).
        events: Which events go to ``urls``; None for all (WEBHOOK_EVENTS). Rule webhooks
            with their own URL are always sent.
        max_attempts: Attempts before a delivery is given up as failed.
        retry_base_seconds: First retry delay; each retry doubles it (capped at an hour).
        timeout: Seconds per attempt.
    """

    urls: tuple[str, ...] = ()
    secret: str = ""
    events: frozenset[str] | None = None
    max_attempts: int = 8
    retry_base_seconds: float = 10.0
    timeout: float = 10.0

    def wants(self, event: str) -> bool:
        """Whether ``event`` goes to the configured URLs."""
        return self.events is None or event in self.events


async def enqueue(
    session: AsyncSession,
    settings: WebhookSettings,
    *,
    event: str,
    key: str,
    payload: dict[str, Any],
    call_id: str | None = None,
    lead_id: str | None = None,
    url: str | None = None,
    secret: str | None = None,
) -> int:
    """Queue ``payload`` for each target URL, once per (key, URL); returns how many were queued.

    Args:
        session: The transaction that caused the event (the delivery commits with it).
        settings: Webhook settings.
        event: The event type (``end-of-call-report``...).
        key: What makes this event unique, e.g. ``end-of-call-report:<call id>``.
        payload: The JSON body.
        call_id: The call it is about, if any.
        lead_id: The lead it is about, if any (a GDPR erase deletes the delivery).
        url: One explicit URL (a rule's, an assistant's server); None for the configured URLs.
        secret: The explicit URL's own secret (an assistant's ``server.secret``).
    """
    urls = (url,) if url else (settings.urls if settings.wants(event) else ())
    queued = 0
    for target in urls:
        exists = await session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.event_key == key, WebhookDelivery.url == target
            )
        )
        if exists is not None:
            continue
        session.add(
            WebhookDelivery(
                event=event,
                event_key=key,
                url=target,
                payload=payload,
                call_id=call_id,
                lead_id=lead_id,
                status="pending",
                next_attempt_at=utcnow(),
                history=[],
                secret=secret if url else None,
            )
        )
        queued += 1
    return queued
