"""Commands for live calls carried between instances over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from typing import Any

import asyncpg
from loguru import logger
from sqlalchemy.engine import make_url

from telephony.live import LiveCalls, LiveCommand, command_data, command_from_data

CHANNEL = "phoneagent_live_calls"
# How long a sender waits for the holder's "taken"; NOTIFY crosses in milliseconds.
ACK_TIMEOUT_SECS = 2.0
# Waits between attempts to (re)connect the listener while PostgreSQL is away.
RECONNECT_SECS = (0.5, 1.0, 2.0, 5.0)
# What a connection being cut may raise: asyncpg's InternalClientError ("cannot switch to
# state ...") is no InterfaceError, and comes when a query meets the connection's end.
CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def plain_postgres_url(url: str) -> str:
    """A DATABASE_URL as asyncpg takes it (``postgresql://``, no SQLAlchemy driver name)."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresCalls:
    """:class:`telephony.live.RemoteCalls` for instances that share one PostgreSQL database.

    No instance records who holds which call (a record would outlive a crashed holder).
    A command is broadcast on one channel, ``phoneagent_live_calls``, as ``{"kind":
    "command", "id", "from", "call", "command"}``; every instance hears it, and the one
    that holds the call answers ``{"kind": "taken", "id", "to", "by", "url"}`` on the same
    channel and then applies it. :meth:`deliver` returns True on that answer, and False when
    none comes within ``ack_timeout`` (no instance holds the call, or it ended meanwhile).
    :meth:`locate` asks the same way (``"kind": "locate"``) for the holder's address.
    Each instance keeps one connection of its own for this, reconnected while the
    database is away; NOTIFY payloads are a few hundred bytes (PostgreSQL allows 8000).
    """

    def __init__(
        self,
        database_url: str,
        *,
        instance: str = "",
        url: str = "",
        ack_timeout: float = ACK_TIMEOUT_SECS,
    ) -> None:
        """Prepare (nothing connects until :meth:`start`).

        Args:
            database_url: The shared PostgreSQL DATABASE_URL.
            instance: This instance's name, for logs (unique: a random suffix is added).
            url: Where the other instances reach this one (INSTANCE_URL).
            ack_timeout: Seconds to wait for the holding instance's answer.
        """
        self._dsn = plain_postgres_url(database_url)
        self.url = url
        self.instance = f"{instance or socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self._ack_timeout = ack_timeout
        self._live: LiveCalls | None = None
        self._connection: asyncpg.Connection | None = None
        self._connected = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._keeper: asyncio.Task | None = None

    async def start(self, live: LiveCalls) -> None:
        """Listen for commands aimed at ``live``'s calls; returns once listening (or retrying)."""
        self._live = live
        self._keeper = asyncio.create_task(self._keep_listening(), name="live-calls-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=5)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._keeper:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._disconnect()

    async def deliver(self, call_id: str, command: LiveCommand) -> bool:
        """Broadcast ``command``; True when the instance holding ``call_id`` answered."""
        answer = await self._ask("command", call_id, command=command_data(command))
        if answer:
            logger.debug(f"call {call_id}: {command.name} taken by instance {answer.get('by')}")
        return answer is not None

    async def locate(self, call_id: str) -> str | None:
        """The URL of the instance holding ``call_id`` (None when no instance answers)."""
        answer = await self._ask("locate", call_id)
        return str(answer["url"]) if answer and answer.get("url") else None

    async def _ask(self, kind: str, call_id: str, **fields: Any) -> dict[str, Any] | None:
        """Broadcast a question about ``call_id``; the holder's answer, or None."""
        request = uuid.uuid4().hex
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request] = answer
        try:
            message = {"kind": kind, "id": request, "from": self.instance, "call": call_id}
            if not await self._send(message | fields):
                return None
            return await asyncio.wait_for(answer, self._ack_timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request, None)

    async def _send(self, message: dict[str, Any]) -> bool:
        """NOTIFY ``message``; while reconnecting, wait for the connection up to the ack timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), self._ack_timeout)
        connection = self._connection
        if connection is None or connection.is_closed():
            logger.warning("live calls: not connected to PostgreSQL; cannot reach other instances")
            return False
        try:
            async with self._send_lock:
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(message))
            return True
        except CONNECTION_ERRORS as e:
            logger.warning(f"live calls: could not notify other instances ({e!r})")
            return False

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
            kind = message["kind"]
        except (ValueError, KeyError, TypeError):
            logger.warning("live calls: ignored a malformed notification")
            return
        if kind == "taken":
            answer = self._waiting.get(message.get("id", ""))
            if message.get("to") == self.instance and answer and not answer.done():
                answer.set_result(message)
        elif kind in ("command", "locate") and message.get("from") != self.instance:
            task = asyncio.create_task(self._take(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _take(self, message: dict[str, Any]) -> None:
        """Apply a command if the call is held here, after telling the sender so."""
        call_id = str(message.get("call", ""))
        if self._live is None or call_id not in self._live:
            return
        taken = {"kind": "taken", "id": message.get("id"), "to": message.get("from")}
        taken |= {"by": self.instance, "url": self.url}
        if message["kind"] == "locate":
            await self._send(taken)
            return
        try:
            command = command_from_data(message["command"])
        except (KeyError, TypeError) as e:
            logger.warning(f"call {call_id}: ignored a command this instance cannot read ({e!r})")
            return
        await self._send(taken)
        logger.info(f"call {call_id}: {command.name} received from instance {message.get('from')}")
        try:
            await self._live.apply_here(call_id, command)
        except Exception:
            logger.exception(f"call {call_id}: {command.name} from another instance failed")

    async def _keep_listening(self) -> None:
        """Hold the listening connection; reconnect (with growing waits) whenever it drops."""
        failures = 0
        while True:
            lost = asyncio.Event()
            try:
                connection = await self._listen(lost)
            except CONNECTION_ERRORS as e:
                if failures == 0:
                    logger.warning(f"live calls: cannot listen on PostgreSQL ({e!r}); retrying")
                await asyncio.sleep(RECONNECT_SECS[min(failures, len(RECONNECT_SECS) - 1)])
                failures += 1
                continue
            if failures:
                logger.info("live calls: listening on PostgreSQL again")
            failures = 0
            self._connection = connection
            self._connected.set()
            await self._until_lost(connection, lost)
            self._connected.clear()
            await self._disconnect()

    async def _listen(self, lost: asyncio.Event) -> asyncpg.Connection:
        """A new connection listening on the channel; ``lost`` is set when it ends."""
        connection = await asyncpg.connect(self._dsn, timeout=5)
        connection.add_termination_listener(lambda _c: self._lost(lost))
        await connection.add_listener(CHANNEL, self._heard)
        return connection

    def _lost(self, lost: asyncio.Event) -> None:
        self._connected.clear()
        lost.set()

    async def _until_lost(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Wait until the connection ends; a silent one is caught by a check every few seconds."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=5)
            if not lost.is_set() and not connection.is_closed():
                try:
                    async with self._send_lock:
                        await connection.fetchval("SELECT 1", timeout=3)
                    continue
                except CONNECTION_ERRORS:
                    pass
            logger.warning("live calls: lost the PostgreSQL connection; reconnecting")
            return

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=2)
            if not connection.is_closed():
                connection.terminate()
