"""Databases a test can make unavailable for real: PostgreSQL behind a proxy, SQLite locked."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from crm.db import Database
from tests.fakes.tcp_proxy import TcpProxy


@dataclass
class Outage:
    """Takes one test database away and brings it back.

    PostgreSQL is reached through a :class:`TcpProxy`: ``begin`` takes the proxy down
    (connections cut, new ones refused), ``stall`` keeps sockets open but forwards
    nothing. SQLite is locked by another connection holding an exclusive transaction
    (writers time out with "database is locked"); it cannot be stalled.
    """

    url: str
    proxy: TcpProxy | None = None
    sqlite_file: Path | None = None
    _lock: sqlite3.Connection | None = field(default=None, repr=False)

    @classmethod
    async def around(cls, url: str) -> Outage:
        """An outage control for the database at ``url`` (a proxy is put in front of PostgreSQL)."""
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite"):
            return cls(url=url, sqlite_file=Path(parsed.database or ""))
        proxy = await TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
        proxied = parsed.set(host="127.0.0.1", port=proxy.port)
        return cls(url=proxied.render_as_string(hide_password=False), proxy=proxy)

    def database(self, **timeouts: float) -> Database:
        """A Database on the (proxied) URL, with the given connect and statement timeouts."""
        return Database(self.url, **timeouts)

    async def begin(self) -> None:
        """The database becomes unreachable."""
        if self.proxy is not None:
            await self.proxy.down()
        else:
            self._lock = sqlite3.connect(self.sqlite_file, timeout=10, isolation_level=None)
            self._lock.execute("BEGIN EXCLUSIVE")

    async def stall(self) -> None:
        """The database stops answering on open connections (PostgreSQL only)."""
        assert self.proxy is not None, "SQLite cannot be stalled"
        await self.proxy.stall()

    async def end(self) -> None:
        """The database is back."""
        if self.proxy is not None:
            await self.proxy.up()
        elif self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None

    async def close(self) -> None:
        """Stop the proxy, release the lock."""
        await self.end()
        if self.proxy is not None:
            await self.proxy.stop()
