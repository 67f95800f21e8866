"""Delivering queued webhooks: signed (Standard Webhooks), retried with backoff, attempts logged."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from loguru import logger
from sqlalchemy import select, update

from crm.db import Database
from crm.models import WebhookDelivery, utcnow
from crm.webhooks.outbox import WebhookSettings
from crm.webhooks.signing import signed_headers

MAX_BACKOFF_SECONDS = 3600.0


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    event_key: str
    url: str
    payload: dict[str, Any]
    secret: str | None = None

    @property
    def message_id(self) -> str:
        """``webhook-id``: the same on every retry of this delivery, unique across deliveries."""
        return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}:{self.event_key}:{self.url}").hex


@dataclass(frozen=True)
class _Attempt:
    status: int | None
    error: str | None
    ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Sends due deliveries; any number of processes may run one (claims are atomic)."""

    def __init__(self, db: Database, settings: WebhookSettings):
        """Bind to the database; the HTTP session opens on first use."""
        self._db = db
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None

    async def deliver_due(self, limit: int = 20) -> int:
        """Attempt every due delivery (up to ``limit``) once; returns how many were attempted."""
        claimed = await self._claim(limit)
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[_Claimed]:
        now = utcnow()
        lease = now + timedelta(
            seconds=self.settings.timeout * 2 + 5
        )  # a crashed sender's claim expires
        due = (WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        claimed = []
        async with self._db.session() as session:
            ids = list(
                await session.scalars(
                    select(WebhookDelivery.id)
                    .where(*due)
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(limit)
                )
            )
            for delivery_id in ids:
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, *due)
                    .values(next_attempt_at=lease)
                )
                if result.rowcount == 1:
                    row = await session.get(WebhookDelivery, delivery_id)
                    claimed.append(
                        _Claimed(row.id, row.event, row.event_key, row.url, row.payload, row.secret)
                    )
        return claimed

    async def _deliver(self, row: _Claimed) -> None:
        attempt = await self._post(row)
        await self._record(row, attempt)

    async def _post(self, row: _Claimed) -> _Attempt:
        body = encode(row.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "phoneagent-webhooks/1",
            "X-Phoneagent-Event": row.event,
            "X-Phoneagent-Delivery": str(row.id),
            **signed_headers(row.secret or self.settings.secret, body, msg_id=row.message_id),
        }
        if row.secret:  # an assistant's server, as VAPI would call it
            headers["X-Vapi-Secret"] = row.secret
        started = time.monotonic()
        try:
            async with self._session().post(row.url, data=body, headers=headers) as response:
                await response.content.read(4096)
                return _Attempt(
                    response.status,
                    None if response.status < 300 else response.reason,
                    _since(started),
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return _Attempt(None, f"{e.__class__.__name__}: {e}"[:300], _since(started))

    async def _record(self, row: _Claimed, attempt: _Attempt) -> None:
        now = utcnow()
        async with self._db.session() as session:
            delivery = await session.get(WebhookDelivery, row.id)
            if delivery is None:  # erased meanwhile (GDPR)
                return
            delivery.attempts += 1
            delivery.last_status_code = attempt.status
            delivery.last_error = attempt.error
            delivery.history = [
                *(delivery.history or []),
                {
                    "at": now.isoformat(),
                    "status": attempt.status,
                    "error": attempt.error,
                    "ms": round(attempt.ms, 1),
                },
            ]
            if attempt.ok:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                    "delivered",
                    now,
                    None,
                )
            elif delivery.attempts >= self.settings.max_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
                logger.warning(
                    f"webhook {row.id} ({row.event}) to {row.url} failed {delivery.attempts} "
                    f"times; giving up"
                )
            else:
                delay = min(
                    MAX_BACKOFF_SECONDS,
                    self.settings.retry_base_seconds * 2 ** (delivery.attempts - 1),
                )
                delivery.next_attempt_at = now + timedelta(seconds=delay)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout)
            )
        return self._http

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            await self._http.close()


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000
