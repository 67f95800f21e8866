"""The calls live here: find one by id, list them, follow one, act on one wherever it is held."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from aiohttp import web
from loguru import logger

from crm.models import Call, utcnow
from telephony.audio_tap import DEFAULT_AUDIO_BACKLOG, AudioStream, CallAudioTap
from telephony.feed import DEFAULT_BACKLOG, CallFeed, Subscription


class LiveSession(Protocol):
    """What the registry needs of a running call (``telephony.session.CallSession`` is one)."""

    call_id: str
    call: Call
    feed: CallFeed
    audio: CallAudioTap
    finished: asyncio.Event

    async def run(self) -> None:
        """Run the call until it ends and is finalized."""

    async def end(self, reason: str) -> None:
        """End the call from our side."""

    async def leave_voicemail(self, message: str | None) -> None:
        """A machine answered: leave ``message`` (if any) and hang up."""

    async def take_over(self, agent_id: str, transfer_id: str, queue: str | None) -> None:
        """An agent takes the call over (the AI leaves, their phone is bridged in)."""


class LiveCommand(Protocol):
    """Something aimed at a live call from outside it (a webhook, later the console).

    Plain data with a ``name``, so that a remote dispatcher can carry it to the
    instance that holds the call, where :meth:`apply` runs on the session.
    """

    name: ClassVar[str]

    async def apply(self, session: LiveSession) -> None:
        """Do it to the call."""


# Every command by name, so that one can travel as data to another instance.
COMMANDS: dict[str, type] = {}


C = TypeVar("C", bound=type)


def live_command(cls: C) -> C:
    """Register a :class:`LiveCommand` dataclass by its ``name`` (see :func:`command_from_data`)."""
    COMMANDS[cls.name] = cls
    return cls


def command_data(command: LiveCommand) -> dict[str, Any]:
    """A command as plain JSON-able data: its ``name`` and its fields."""
    return {"name": command.name, "fields": dataclasses.asdict(command)}  # type: ignore[call-overload]


def command_from_data(data: dict[str, Any]) -> LiveCommand:
    """The command :func:`command_data` described.

    Raises:
        KeyError: No command has that name (an instance running other code).
    """
    return COMMANDS[data["name"]](**data["fields"])


@live_command
@dataclass(frozen=True)
class LeaveVoicemail:
    """A machine answered (async AMD): leave ``message`` (if any) and hang up."""

    message: str | None
    name: ClassVar[str] = "voicemail"

    async def apply(self, session: LiveSession) -> None:
        """Cut the bot off, leave the message, hang up."""
        await session.leave_voicemail(self.message)


@dataclass(frozen=True)
class TakeOver:
    """An agent takes the call over from the console: recorded as ``transfer_id``."""

    agent_id: str
    transfer_id: str
    queue: str | None
    name: ClassVar[str] = "takeover"

    async def apply(self, session: LiveSession) -> None:
        """Stop the AI, ring the agent, bridge them in."""
        await session.take_over(self.agent_id, self.transfer_id, self.queue)


class RemoteCalls(Protocol):
    """Reaches the calls other instances hold (:class:`telephony.live_postgres.PostgresCalls`).

    The instance that receives a command applies it with :meth:`LiveCalls.apply_here`.
    """

    async def deliver(self, call_id: str, command: LiveCommand) -> bool:
        """Hand ``command`` to the instance holding ``call_id``; True when one took it."""
        ...

    async def locate(self, call_id: str) -> str | None:
        """The URL of the instance holding ``call_id``, None when none does."""
        ...


class SingleInstance:
    """:class:`RemoteCalls` when this is the only instance: no call is held elsewhere."""

    async def deliver(self, call_id: str, command: LiveCommand) -> bool:
        """Nowhere else to send it."""
        return False

    async def locate(self, call_id: str) -> str | None:
        """No other instance."""
        return None


@dataclass(frozen=True)
class LiveCallInfo:
    """One live call as the dashboard and the agent console list it.

    Parameters:
        call_id: Our call id.
        assistant: The assistant talking.
        direction: ``inbound`` or ``outbound``.
        provider: The carrier it came in on (``twilio``...).
        started_at: When it went live here (its media started).
        lead_id: The CRM lead, when known.
        phone: The other party's number (the caller's, or the number we called).
    """

    call_id: str
    assistant: str | None
    direction: str
    provider: str
    started_at: datetime
    lead_id: str | None
    phone: str | None


@dataclass
class _Held:
    session: LiveSession
    since: datetime


class LiveCalls:
    """The calls this process holds, from media start until they are finalized.

    The one place a live call is found by id: carriers hold each call's session here
    while it runs, and anything aimed at a live call (a webhook, the console) looks it
    up here. The dashboard and the agent console list calls and follow one here (its
    transcript with :meth:`subscribe`, its audio with :meth:`listen`).

    A call lives in the one instance that holds its media. A command for a call that
    is not live here goes to ``remote`` (a no-op while there is one instance), and
    is logged when no instance takes it, never dropped in silence.

    What the machine is busy with (:attr:`busy`, which ``telephony.capacity`` weighs) is
    the calls in conversation and those expected (:meth:`expect`: answered and about
    to stream, or ringing out). A call whose caller hung up is still held while it is
    finalized, but it is no longer live: :attr:`talking` leaves it out.

    Attributes:
        on_idle: Called (in the loop, must not block) each time the last held call is let
            go, e.g. to hand a burst's memory back to the system.
    """

    def __init__(self, remote: RemoteCalls | None = None) -> None:
        """An empty registry; ``remote`` reaches other instances' calls."""
        self._held: dict[str, _Held] = {}
        self._expected: dict[str, float] = {}  # call id -> monotonic deadline
        self._remote = remote or SingleInstance()
        self._arrived = asyncio.Event()
        self.on_idle: list[Callable[[], None]] = []

    def __len__(self) -> int:
        """Calls held here, those being finalized included."""
        return len(self._held)

    @property
    def talking(self) -> int:
        """Calls in conversation: held, and their media has not ended."""
        return sum(1 for held in self._held.values() if not _media_ended(held.session))

    @property
    def finishing(self) -> int:
        """Calls whose media ended (the caller hung up) that are still being finalized."""
        return len(self._held) - self.talking

    @property
    def expected(self) -> int:
        """Calls expected to go live here soon (see :meth:`expect`)."""
        now = time.monotonic()
        for call_id, deadline in list(self._expected.items()):
            if deadline <= now or call_id in self._held:
                del self._expected[call_id]
        return len(self._expected)

    @property
    def busy(self) -> int:
        """What the calls here weigh on the machine: those talking and those expected."""
        return self.talking + self.expected

    def expect(self, call_id: str, within: float) -> None:
        """Count ``call_id`` as busy until it goes live here, is forgotten, or ``within`` s pass.

        For a call answered and about to stream (so that two calls arriving together
        cannot both take the last line), or one ringing out.
        """
        self._expected[call_id] = time.monotonic() + within

    def expecting(self, call_id: str) -> bool:
        """Whether ``call_id`` is counted as expected here."""
        return call_id in self._expected

    def forget(self, call_id: str) -> None:
        """An expected call will not go live here (it was not answered, or failed)."""
        self._expected.pop(call_id, None)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._held

    def get(self, call_id: str) -> LiveSession | None:
        """The session of a call live in this process, or None."""
        held = self._held.get(call_id)
        return held.session if held else None

    def ids(self) -> list[str]:
        """The ids of the calls live in this process."""
        return list(self._held)

    async def changed(self, timeout: float) -> None:
        """Wait until a call goes live here, or ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            pass
        self._arrived.clear()

    def list(self) -> list[LiveCallInfo]:
        """The calls live in this process, oldest first."""
        return [_info(held) for held in self._held.values()]

    def subscribe(self, call_id: str, backlog: int = DEFAULT_BACKLOG) -> Subscription | None:
        """Follow a live call's events from now on (None when it is not live here).

        Iterate the subscription (``async for event in ...``): transcript lines as
        written, tool calls, then :class:`telephony.feed.CallEnded`, and the iteration
        stops. Lines said before subscribing are in the call's transcript; a line with a
        ``seq`` already seen replaces it. ``close()`` it (or use ``with``) to stop early.
        """
        session = self.get(call_id)
        return session.feed.subscribe(backlog) if session else None

    def listen(self, call_id: str, backlog: int = DEFAULT_AUDIO_BACKLOG) -> AudioStream | None:
        """Follow a live call's audio, both sides as heard (None when it is not live here).

        Iterate it (``async for event in ...``): :class:`telephony.audio_tap.TappedAudio`
        for the caller and the bot, :class:`telephony.audio_tap.BotCut` at a barge-in;
        it stops when the call ends. ``close()`` it to stop early.
        """
        session = self.get(call_id)
        return session.audio.stream(backlog) if session else None

    async def deliver(self, call_id: str, command: LiveCommand) -> bool:
        """Apply ``command`` to the call, here or on the instance holding it.

        Returns:
            Whether some instance took it (False is logged: the call is not live
            anywhere this instance can reach).
        """
        if await self.apply_here(call_id, command):
            return True
        if await self._remote.deliver(call_id, command):
            logger.info(f"call {call_id}: {command.name} sent to the instance holding the call")
            return True
        logger.warning(
            f"call {call_id}: {command.name} not applied: the call is not live on this instance "
            "(not streaming yet, already ended, or held by an instance this one cannot reach)"
        )
        return False

    async def held_elsewhere(self, call_id: str) -> str | None:
        """The URL of another instance holding ``call_id`` (None if it is here, or nowhere)."""
        return None if call_id in self else await self._remote.locate(call_id)

    async def apply_here(self, call_id: str, command: LiveCommand) -> bool:
        """Apply ``command`` if the call is live in this process; False if it is not."""
        session = self.get(call_id)
        if session is None:
            return False
        await command.apply(session)
        return True

    async def hold(self, session: LiveSession) -> None:
        """Run ``session``, listed here until it is finalized."""
        self._held[session.call_id] = _Held(session, utcnow())
        self._arrived.set()
        self._expected.pop(session.call_id, None)
        try:
            await session.run()
        finally:
            self._held.pop(session.call_id, None)
            if not self._held:
                self._idle()

    def _idle(self) -> None:
        for hook in self.on_idle:
            try:
                hook()
            except Exception as e:
                logger.exception(f"live calls: an idle hook failed: {e}")

    async def end_all(self, reason: str, timeout: float = 10.0) -> None:
        """End every live call (e.g. on shutdown) and wait for each to be finalized."""
        sessions = [held.session for held in self._held.values()]
        if not sessions:
            return
        logger.info(f"Ending {len(sessions)} live call(s): {reason}")
        await asyncio.gather(*(s.end(reason) for s in sessions), return_exceptions=True)
        await asyncio.wait(
            [asyncio.ensure_future(s.finished.wait()) for s in sessions], timeout=timeout
        )


def _media_ended(session: LiveSession) -> bool:
    """The caller's audio stopped: the far end hung up, or the call began to end."""
    return session.audio.input_ended_at is not None


def _info(held: _Held) -> LiveCallInfo:
    call = held.session.call
    return LiveCallInfo(
        call_id=call.id,
        assistant=call.assistant,
        direction=call.direction,
        provider=call.provider,
        started_at=held.since,
        lead_id=call.lead_id,
        phone=call.to_number if call.direction == "outbound" else call.from_number,
    )


LIVE = web.AppKey("live_calls", LiveCalls)
