"""The post-call job queue in the calls table: claimed atomically, retried with backoff, durable."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from loguru import logger
from sqlalchemy import or_, select, update

from crm.db import Database
from crm.models import Call, utcnow
from crm.post_call import PostCallJob


class AnalysisQueue:
    """Finds calls whose analysis is due and runs :class:`PostCallJob` on them.

    A call is queued by ``analysis_status = 'pending'``, written when the call ends (so
    it survives a crash). Claiming pushes ``analysis_next_at`` out by a lease: a process
    that dies mid-job lets the lease expire and any process picks the call up again.
    A job that raises is retried with exponential backoff, then marked ``failed``.
    """

    def __init__(
        self,
        db: Database,
        job: PostCallJob,
        *,
        batch: int = 4,
        max_attempts: int = 5,
        retry_base_seconds: float = 30.0,
        lease_seconds: float = 300.0,
    ):
        """Bind to the database and the job."""
        self.db = db
        self.job = job
        self.batch = batch
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.lease_seconds = lease_seconds

    async def mark_pending(self, call_id: str) -> None:
        """Queue an ended call that is not queued yet (the call store normally already did)."""
        async with self.db.session() as session:
            await session.execute(
                update(Call)
                .where(
                    Call.id == call_id, Call.analysis_status.is_(None), Call.ended_at.is_not(None)
                )
                .values(analysis_status="pending")
            )

    async def process_due(self) -> int:
        """Run the job on up to ``batch`` due calls, concurrently; returns how many ran."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._process(call_id) for call_id in claimed))
        return len(claimed)

    async def _claim(self) -> list[str]:
        now = utcnow()
        due = (
            Call.analysis_status == "pending",
            or_(Call.analysis_next_at.is_(None), Call.analysis_next_at <= now),
        )
        claimed = []
        async with self.db.session() as session:
            ids = list(
                await session.scalars(
                    select(Call.id).where(*due).order_by(Call.ended_at).limit(self.batch)
                )
            )
            for call_id in ids:
                result = await session.execute(
                    update(Call)
                    .where(Call.id == call_id, *due)
                    .values(
                        analysis_next_at=now + timedelta(seconds=self.lease_seconds),
                        analysis_attempts=Call.analysis_attempts + 1,
                    )
                )
                if result.rowcount == 1:
                    claimed.append(call_id)
        return claimed

    async def _process(self, call_id: str) -> None:
        try:
            status = await self.job.run(call_id)
            logger.info(f"call {call_id}: analysis {status}")
        except Exception as e:
            # No traceback variables at error level: they would hold transcripts and numbers.
            logger.error(f"call {call_id}: post-call job failed: {e.__class__.__name__}: {e}")
            logger.opt(exception=e).debug("post-call job traceback")
            await self._failed(call_id, e)

    async def _failed(self, call_id: str, error: Exception) -> None:
        async with self.db.session() as session:
            call = await session.get(Call, call_id)
            if call is None or call.analysis_status != "pending":
                return
            call.analysis_error = f"{error.__class__.__name__}: {error}"[:500]
            if call.analysis_attempts >= self.max_attempts:
                call.analysis_status, call.analysis_next_at = "failed", None
            else:
                delay = self.retry_base_seconds * 2 ** (call.analysis_attempts - 1)
                call.analysis_next_at = utcnow() + timedelta(seconds=delay)
