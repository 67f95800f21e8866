"""The outbound dialer: a background worker that turns due campaign contacts into calls.

Any number of server instances may run it against one database. Each tick it moves
campaigns along their schedule, enrolls leads, recovers what a crashed instance left,
then claims due contacts (see ``crm.outbound.dialing``), re-checks each at the moment of
dialing, takes the number's dial lock and places the call through the campaign's
provider. What happens to the call arrives later through the provider's callbacks, as
status changes that :meth:`Dialer.settle` turns into the attempt's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import select

from config import Settings
from crm.db import Database
from crm.models import Call, Campaign, utcnow
from crm.outages import OutageLog
from crm.outbound.breaker import trip_if_failing
from crm.outbound.caller_ids import choose_caller_id
from crm.outbound.campaign_runs import advance_schedules, enroll_due
from crm.outbound.dial_outcomes import (
    attempt_not_placed,
    attempt_placed,
    call_finished,
    open_attempt,
    recover,
)
from crm.outbound.dialing import (
    FINAL_CALL_STATUSES,
    Claimed,
    claim_due,
    lock_number,
    release,
    still_allowed,
)
from crm.webhooks.outbox import WebhookSettings
from telephony.capacity import CallCapacity
from telephony.dependencies import CallDependencies
from telephony.outbound.providers import DialError, OutboundCall, OutboundProvider
from telephony.outbound.routing import PLACED_BY, campaign_route

Clock = Callable[[], datetime]
# Which provider places a campaign's calls (``twilio``, ``vapi``); see telephony.outbound.routing.
Route = Callable[[Campaign], str]
# A number held by another call is tried again this much later.
LOCKED_RETRY = timedelta(minutes=2)


class Dialer:
    """Claims and dials due campaign contacts, every ``tick_secs``."""

    def __init__(
        self,
        db: Database,
        providers: dict[str, OutboundProvider],
        *,
        default_from: str = "",
        clock: Clock = utcnow,
        tick_secs: float = 2.0,
        instance: str | None = None,
        route: Route | None = None,
        webhooks: WebhookSettings | None = None,
        capacity: CallCapacity | None = None,
    ):
        """Prepare a dialer (nothing runs until :meth:`run` or :meth:`tick`).

        Args:
            db: The shared database.
            providers: Outbound providers by name (``twilio``, ``vapi``).
            default_from: Caller ID for campaigns that set none (TWILIO_FROM_NUMBER).
            clock: Returns the current time (tests pass a controllable one).
            tick_secs: Seconds between ticks when running.
            instance: A name for this dialer, unique among instances.
            route: Picks the provider of a campaign; default: the campaign's own setting.
            webhooks: Where a campaign's ``campaign.paused`` (circuit breaker) goes.
            capacity: The server's lines: calls whose provider runs them here are placed
                only while lines are free, each holding one while it rings. None: no limit.
        """
        self._db = db
        self._providers = providers
        self._route = route or (lambda campaign: PLACED_BY.get(campaign.provider, "twilio"))
        self._webhooks = webhooks or WebhookSettings()
        self._default_from = default_from
        self._clock = clock
        self._tick_secs = tick_secs
        self.instance = instance or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.placed = 0
        self._capacity = capacity
        self._warned: set[str] = set()
        self._opening = asyncio.Lock()

    @classmethod
    def for_server(
        cls,
        settings: Settings,
        deps: CallDependencies,
        providers: dict[str, OutboundProvider],
        capacity: CallCapacity | None = None,
    ) -> Dialer:
        """The server's dialer, from its settings and the call dependencies.

        DIALER_TICK_SECS and DIALER_INSTANCE as set; TWILIO_FROM_NUMBER for campaigns
        without a caller ID; each campaign's provider chosen from the assistants loaded at
        the time (:func:`telephony.outbound.routing.campaign_route`); calls paced to the
        server's free ``capacity``.
        """
        return cls(
            deps.database,
            providers,
            default_from=settings.twilio_from_number,
            tick_secs=settings.dialer_tick_secs,
            instance=settings.dialer_instance or None,
            route=campaign_route(deps.assistants),
            webhooks=deps.policy.webhooks if deps.policy else None,
            capacity=capacity,
        )

    async def settle(self, call: Call) -> None:
        """A status hook: a campaign call whose status is final settles its attempt.

        Added to ``CallDependencies.on_call_status``, which every provider's status
        changes pass through; the attempt's retry, if any, is timed by this dialer's clock.
        """
        if self._capacity is not None and call.status in FINAL_CALL_STATUSES:
            self._capacity.settled(call.id)  # not answered here, or over: its line is free
        if call.campaign_id and call.status in FINAL_CALL_STATUSES:
            await call_finished(self._db, call.id, self._clock())

    @contextlib.asynccontextmanager
    async def running(self, enabled: bool = True) -> AsyncIterator[None]:
        """Tick in the background while the block runs (if ``enabled``), then close providers."""
        task = asyncio.create_task(self.run(), name="dialer") if enabled else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        """Close every provider's connections."""
        for provider in self._providers.values():
            await provider.close()

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning(message)

    async def run(self) -> None:
        """Tick until cancelled; a failing tick is logged and the next one goes on.

        A database outage is logged when it starts and when it ends, not at every tick.
        """
        logger.info(f"Dialer {self.instance} running (every {self._tick_secs:g}s)")
        outage = OutageLog(f"dialer {self.instance}")
        while True:
            try:
                await self.tick()
                outage.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not outage.failed(e):  # an outage is logged once, not every tick
                    logger.exception(f"dialer tick failed: {e}")
            await asyncio.sleep(self._tick_secs)

    async def tick(self) -> int:
        """One round: schedules, enrollment, recovery, then what is due; returns calls placed.

        A campaign whose recent attempts fail is paused by its circuit breaker
        (:mod:`crm.outbound.breaker`) instead of dialled.
        """
        now = self._clock()
        await advance_schedules(self._db, now)
        await enroll_due(self._db, now)
        recovered = await recover(self._db, now)
        if recovered:
            logger.warning(
                f"dialer {self.instance}: recovered {recovered} contact(s) left mid-dial"
            )
        async with self._db.session() as session:
            campaigns = list(
                await session.scalars(select(Campaign).where(Campaign.status == "active"))
            )
        placed = 0
        lines = self._capacity.free() if self._capacity is not None else None
        for campaign in campaigns:
            provider = self._route(campaign)
            if provider not in self._providers:
                self._warn_once(
                    f"campaign {campaign.name}: no {provider} provider configured; not dialing"
                )
                continue
            if await trip_if_failing(self._db, campaign.id, now, self._webhooks):
                continue
            limit = lines if self._providers[provider].runs_here else None
            if limit is not None and limit <= 0:
                logger.debug(f"campaign {campaign.name}: every line is busy; dialing waits")
                continue
            claimed = await claim_due(self._db, campaign.id, self.instance, now, limit)
            if limit is not None:
                lines = limit - len(claimed)
            results = await asyncio.gather(
                *(self._dial(campaign, provider, c) for c in claimed), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Exception):
                    logger.error(f"dialer {self.instance}: dial failed: {result!r}")
            placed += sum(1 for r in results if r is True)
        self.placed += placed
        return placed

    async def _dial(self, campaign: Campaign, provider_name: str, claimed: Claimed) -> bool:
        """Re-check, pick the caller ID, lock the number, open the call row, place the call."""
        now = self._clock()
        reason = await still_allowed(self._db, claimed, now)
        if reason:
            logger.info(f"contact {claimed.contact_id}: not dialled ({reason})")
            await release(self._db, claimed, reason, now)
            return False
        async with self._opening:  # a caller ID's count includes this instance's last pick
            from_number, caps_reset = await choose_caller_id(
                self._db, campaign, claimed.phone, self._default_from, now
            )
            if from_number is None:
                logger.info(f"contact {claimed.contact_id}: every caller ID is at its daily cap")
                await release(self._db, claimed, "caller_ids_capped", now, retry_at=caps_reset)
                return False
            if not await lock_number(self._db, claimed, self.instance, now):
                await release(self._db, claimed, "number_busy", now, retry_at=now + LOCKED_RETRY)
                return False
            call = await open_attempt(
                self._db, claimed, from_number=from_number, now=now, provider=provider_name
            )
        provider = self._providers[provider_name]
        if self._capacity is not None and provider.runs_here:
            self._capacity.ringing(call.id)  # its line is held from now, answered or not
        try:
            sid = await provider.place(
                OutboundCall(
                    call_id=call.id,
                    to=claimed.phone,
                    from_number=from_number,
                    assistant=campaign.assistant,
                    lead_id=claimed.lead_id,
                )
            )
        except DialError as e:
            if self._capacity is not None:
                self._capacity.settled(call.id)
            await attempt_not_placed(
                self._db, claimed, call.id, str(e), invalid_number=e.invalid_number, now=now
            )
            return False
        await attempt_placed(self._db, call.id, sid)
        logger.info(
            f"call {call.id}: dialled for campaign {campaign.name} (attempt {claimed.attempt})"
        )
        return True
