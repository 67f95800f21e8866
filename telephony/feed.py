"""A live call's events as its journal writes them, for whoever follows the call (console...)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# How many events a follower may fall behind before the oldest are dropped.
DEFAULT_BACKLOG = 256


@dataclass(frozen=True)
class TranscriptLine:
    """A transcript line, as written to the call's transcript.

    A later line with the same ``seq`` replaces this one: the caller went on after a
    short pause and their words became one line.

    Parameters:
        seq: The line's number in the call's transcript.
        role: ``user`` (the caller) or ``assistant``.
        text: What was said (for the bot: what the caller heard).
        started_at: When it began.
        ended_at: When it ended.
        interrupted: The caller talked over the bot and cut this line short.
    """

    seq: int
    role: str
    text: str
    started_at: datetime | None
    ended_at: datetime | None
    interrupted: bool = False


@dataclass(frozen=True)
class ToolCalled:
    """A tool the assistant called, once it answered.

    Parameters:
        name: The tool.
        arguments: What the LLM passed.
        ok: Whether it did what was asked.
        result: What the LLM read back.
        error: Why not, when it failed.
    """

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: Any
    error: str | None = None


@dataclass(frozen=True)
class CallEnded:
    """The call is over; nothing follows."""

    reason: str


@dataclass(frozen=True)
class Missed:
    """The follower fell behind and the ``count`` oldest events were dropped.

    Read the call (``GET /api/calls/{id}``) to catch up; lines merge by ``seq``.
    """

    count: int


CallEvent = TranscriptLine | ToolCalled | CallEnded | Missed


class Subscription:
    """One follower's events, in order, as an async iterator that stops when the call ends.

    Bounded: a follower that reads too slowly loses the oldest events (it is told how
    many with :class:`Missed`), so it never slows or blocks the call.
    """

    def __init__(self, feed: CallFeed, backlog: int):
        """Start empty; the feed puts events in."""
        self._feed = feed
        self._events: deque[CallEvent] = deque()
        self._backlog = max(1, backlog)
        self._ready = asyncio.Event()
        self._closed = False
        self._unreported = 0
        self.missed = 0

    def put(self, event: CallEvent) -> None:
        """Add an event (never blocks): the oldest is dropped when the backlog is full."""
        if self._closed:
            return
        if len(self._events) >= self._backlog:
            self._events.popleft()
            self._unreported += 1
            self.missed += 1
        self._events.append(event)
        self._ready.set()

    def close(self) -> None:
        """Stop following: what is queued can still be read, nothing more arrives."""
        self._closed = True
        self._feed.unsubscribe(self)
        self._ready.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> CallEvent:
        while True:
            if self._unreported:
                missed, self._unreported = Missed(self._unreported), 0
                return missed
            if self._events:
                return self._events.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()


class CallFeed:
    """Fans one call's events out to its followers; publishing never waits on any of them."""

    def __init__(self) -> None:
        """A feed with no followers yet."""
        self._subscriptions: set[Subscription] = set()
        self.ended: CallEnded | None = None

    def publish(self, event: CallEvent) -> None:
        """Give ``event`` to every follower."""
        for subscription in list(self._subscriptions):
            subscription.put(event)

    def subscribe(self, backlog: int = DEFAULT_BACKLOG) -> Subscription:
        """Follow the call from now on (an ended call's feed yields only its end)."""
        subscription = Subscription(self, backlog)
        if self.ended is not None:
            subscription.put(self.ended)
            subscription.close()
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a follower."""
        self._subscriptions.discard(subscription)

    def end(self, reason: str) -> None:
        """Tell every follower the call ended, and close their iterators after that."""
        if self.ended is not None:
            return
        self.ended = CallEnded(reason)
        self.publish(self.ended)
        for subscription in list(self._subscriptions):
            subscription.close()
