"""Calls left behind by a server that died: this instance's leases, and settling the orphans."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from loguru import logger

from crm import call_leases
from crm.calls import FINAL_STATUSES
from crm.models import Call, utcnow
from crm.outages import OutageLog
from telephony.dependencies import CallDependencies
from telephony.journal import write_spooled
from telephony.journal_spool import spooled_calls
from telephony.live import LiveCalls

# How long a live call's holder may go unheard before another instance settles the call.
LEASE_SECS = 30.0


@dataclass(frozen=True)
class CarrierVerdict:
    """What a carrier says of a call we lost: its status there, and when it ended.

    Parameters:
        status: The carrier's status (``completed``, ``no-answer``...).
        ended_at: When it ended, if the carrier says.
    """

    status: str
    ended_at: datetime | None = None


# Asks a carrier for the real state of one of its calls (by the carrier's id), ending it
# there if it is still up (nobody is listening to it any more); None when it cannot tell.
AskCarrier = Callable[[str], Awaitable[CarrierVerdict | None]]

ASK_CARRIER = web.AppKey("ask_carrier", dict[str, AskCarrier])
"""Each carrier's :data:`AskCarrier`, by provider name, where it can be asked (Twilio's REST)."""


class CallLeases:
    """This instance's hold on its live calls, and the settling of calls nobody holds.

    Every live call here is leased to this instance (``owner``) for ``lease_secs``,
    renewed at a third of that. A call not ended whose lease lapsed lost its instance
    (killed, its host gone): any instance settles it, once. So does a restarted
    instance, at start, for every call left under its own name. Settling writes what
    the call left in this host's spool, asks the carrier how the call really ended
    (hanging it up there if it is still up), ends the call with an ``orphaned: ...``
    reason, queues its analysis and settles its campaign attempt.
    """

    def __init__(
        self,
        deps: CallDependencies,
        live: LiveCalls,
        owner: str,
        *,
        carriers: dict[str, AskCarrier] | None = None,
        lease_secs: float = LEASE_SECS,
    ):
        """Prepare (nothing runs until :meth:`start`)."""
        self._deps = deps
        self._live = live
        self.owner = owner
        self._carriers = carriers or {}
        self._lease = timedelta(seconds=lease_secs)
        self._task: asyncio.Task | None = None
        self._outage = OutageLog("call leases")
        self._reached_since = time.monotonic()
        self._began = utcnow()  # calls opened before this are a previous run's
        self.settled = 0

    async def start(self) -> None:
        """Settle what a previous run left, then keep leases and watch for orphans.

        In the background: asking carriers about many calls never delays the start.
        """
        self._task = asyncio.create_task(self._run(), name="call-leases")

    async def stop(self) -> None:
        """Stop renewing (the calls' leases then lapse unless the calls are finalized)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await self._step(restarted=True)
        while True:
            await self._live.changed(self._lease.total_seconds() / 3)
            await self._step(restarted=False)

    async def _step(self, *, restarted: bool) -> None:
        try:
            now = utcnow()
            await call_leases.hold(
                self._deps.database, self.owner, self._live.ids(), now + self._lease
            )
            self._outage.succeeded()
            await self._write_spools()
            for call in await call_leases.orphans(
                self._deps.database, self.owner, now, restarted_at=self._restarted_at(restarted)
            ):
                if call.id not in self._live and self._may_settle(call, restarted):
                    await self._settle(call, restarted=restarted)
        except Exception as e:
            if self._outage.failed(e):
                self._reached_since = time.monotonic()
            else:
                logger.exception(f"call leases: {e}")

    def _restarted_at(self, restarted: bool) -> datetime | None:
        return self._began if restarted else None

    def _may_settle(self, call: Call, restarted: bool) -> bool:
        """Whether a lapsed lease proves its holder gone.

        After a database outage every holder's renewals failed too: another instance's
        calls are judged only once the database has answered here for a whole lease
        (their holder has renewed them by then if it lives). A restart's own calls are
        settled at once.
        """
        if restarted and call.owner == self.owner:
            return True
        return time.monotonic() - self._reached_since >= self._lease.total_seconds()

    async def _write_spools(self) -> None:
        folder = self._deps.spool_dir
        if folder is None:
            return
        db, now = self._deps.database, utcnow()
        for call_id in spooled_calls(folder):
            # another instance sharing this folder may hold the call: its journal writes it
            if call_id in self._live or await call_leases.held_elsewhere(
                db, call_id, self.owner, now
            ):
                continue
            await write_spooled(self._deps.calls, Path(folder), call_id)

    async def _settle(self, call: Call, *, restarted: bool) -> None:
        now = utcnow()
        own = restarted and call.owner == self.owner
        db = self._deps.database
        if not await call_leases.claim(
            db, call.id, self.owner, now, now + self._lease, restarted_at=self._restarted_at(own)
        ):
            return  # another instance is settling it
        verdict = await self._ask_carrier(call)
        ended_at = verdict.ended_at if verdict and verdict.ended_at else None
        ended_at = ended_at or await call_leases.last_heard(db, call, self._lease)
        reason = call_leases.RESTARTED if own else call_leases.OWNER_LOST
        status = verdict.status if verdict and verdict.status in FINAL_STATUSES else "completed"
        await self._deps.calls.finalize(
            call.id, end_reason=reason, ended_at=ended_at, status=status
        )
        self.settled += 1
        logger.warning(
            f"call {call.id}: settled, left by {call.owner or 'an unknown instance'} "
            f"({reason}; carrier: {verdict.status if verdict else 'not asked'})"
        )
        self._deps.call_ended(call.id)
        settled = await self._deps.calls.get(call.id)
        if settled is not None:
            await self._deps.status_changed(settled)

    async def _ask_carrier(self, call: Call) -> CarrierVerdict | None:
        ask = self._carriers.get(call.provider)
        if ask is None or not call.provider_call_id:
            return None
        try:
            return await ask(call.provider_call_id)
        except Exception as e:
            logger.warning(f"call {call.id}: could not ask {call.provider} how it ended: {e}")
            return None


CALL_LEASES = web.AppKey("call_leases", CallLeases)
