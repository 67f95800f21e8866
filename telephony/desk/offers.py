"""Transfers offered to agents right now, and the consoles that watch for them."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from crm.db import Database

# How many events a console may fall behind before the oldest are dropped.
WATCH_BACKLOG = 100


class DeskWatch:
    """One console's offers, in order, as an async iterator (``close()`` to stop)."""

    def __init__(self, desk: AgentDesk, agent_id: str | None):
        """Start empty; the desk puts events in."""
        self._desk, self.agent_id = desk, agent_id
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(WATCH_BACKLOG)

    def put(self, event: dict[str, Any]) -> None:
        """Queue an event; the oldest goes when the console reads too slowly."""
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(event)

    def close(self) -> None:
        """Stop watching."""
        self._desk.unwatch(self)
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(None)

    def __aiter__(self) -> DeskWatch:
        return self

    async def __anext__(self) -> dict[str, Any]:
        event = await self._events.get()
        if event is None:
            raise StopAsyncIteration
        return event


class AgentDesk:
    """The offers being made now (by transfer id), the agents being rung, the consoles watching.

    An offer is published to its agent's consoles (and to every admin console) each
    time it changes; a console that connects later gets the offers still open. An
    agent's decline reaches the transfer ringing them through :meth:`declined`.
    This state lives in the instance that holds the call (like the call itself).
    """

    def __init__(self, db: Database):
        """No offers yet."""
        self.db = db
        self.offers: dict[str, dict[str, Any]] = {}
        self.ringing: set[str] = set()
        self._watchers: dict[str | None, set[DeskWatch]] = defaultdict(set)
        self._declines: dict[tuple[str, str], asyncio.Future[None]] = {}

    def watch(self, agent_id: str | None) -> DeskWatch:
        """Follow an agent's offers (``None``: every offer, for the admin), open ones first."""
        watch = DeskWatch(self, agent_id)
        self._watchers[agent_id].add(watch)
        for offer in self.offers.values():
            if agent_id is None or offer.get("agentId") == agent_id:
                watch.put({"type": "offer", "offer": offer})
        return watch

    def unwatch(self, watch: DeskWatch) -> None:
        """Forget a console."""
        self._watchers[watch.agent_id].discard(watch)

    def publish(self, offer: dict[str, Any], *, done: bool = False) -> None:
        """Send an offer's new state to its agent's consoles and the admin's."""
        if done:
            self.offers.pop(offer["transferId"], None)
        else:
            self.offers[offer["transferId"]] = offer
        for key in {offer.get("agentId"), None}:
            for watch in list(self._watchers.get(key, ())):
                watch.put({"type": "offer", "offer": offer})

    def declined(self, transfer_id: str, agent_id: str) -> asyncio.Future[None]:
        """Resolves when ``agent_id`` declines ``transfer_id``."""
        key = (transfer_id, agent_id)
        if key not in self._declines:
            self._declines[key] = asyncio.get_running_loop().create_future()
        return self._declines[key]

    def decline(self, transfer_id: str, agent_id: str) -> bool:
        """The agent declined on the console; False when they are not being offered it here."""
        offer = self.offers.get(transfer_id)
        if offer is None or offer.get("agentId") != agent_id:
            return False
        future = self.declined(transfer_id, agent_id)
        if not future.done():
            future.set_result(None)
        return True

    def forget(self, transfer_id: str) -> None:
        """The transfer is over: drop what it left here."""
        for key in [k for k in self._declines if k[0] == transfer_id]:
            self._declines.pop(key)
