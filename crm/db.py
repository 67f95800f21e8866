"""Database engine, sessions and schema migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from loguru import logger
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock our migrations run under ("phoneagent" as a number).
MIGRATION_LOCK = 0x70686F6E656167

# Defaults: how long a new connection may take, and how long one statement may run (or wait
# for SQLite's lock) before it fails, so that a stalled database fails requests, not hangs them.
CONNECT_TIMEOUT_SECS = 3.0
STATEMENT_TIMEOUT_SECS = 15.0


def async_url(url: str) -> str:
    """Turn a plain DATABASE_URL into one with an asyncio driver.

    ``sqlite:///file.db`` uses aiosqlite and ``postgresql://`` (or ``postgres://``)
    uses asyncpg; a URL that already names a driver is kept.
    """
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the API read while calls write; foreign keys make cascades work.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted content is overwritten with zeros, so an erased person's words leave the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class Database:
    """The async engine and session factory for one DATABASE_URL."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT_SECS,
        statement_timeout: float = STATEMENT_TIMEOUT_SECS,
    ):
        """Create the engine (no connection is made until first use).

        Args:
            url: A DATABASE_URL (``sqlite:///path`` or ``postgresql://...``).
            echo: Log every SQL statement.
            connect_timeout: Longest wait for a new connection (PostgreSQL) or a free
                connection from the pool.
            statement_timeout: Longest a statement may run (PostgreSQL), or wait for
                another writer's lock (SQLite's busy timeout).
        """
        self.url = async_url(url)
        self.is_sqlite = self.is_sqlite_url(self.url)
        options: dict = {}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": statement_timeout}
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            options["connect_args"] = {
                "timeout": connect_timeout,
                "command_timeout": statement_timeout,
            }
            options |= {"pool_pre_ping": True, "pool_timeout": connect_timeout + statement_timeout}
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def is_sqlite_url(url: str) -> bool:
        """Whether a DATABASE_URL names SQLite (one instance) rather than a shared server."""
        return async_url(url).startswith("sqlite")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema up to the newest migration.

        On PostgreSQL, under an advisory lock: instances starting at once on one database
        migrate one after the other (the later ones find the schema at head), instead of
        racing to create the same tables.
        """
        if self.is_sqlite:  # the write lock serializes SQLite
            await self._upgrade()
            return
        async with self.engine.connect() as lock:
            key = {"key": MIGRATION_LOCK}
            if not await lock.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
                logger.info("Waiting for another instance to finish migrating the database")
                await lock.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                await self._upgrade()
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:key)"), key)

    async def _upgrade(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or did not answer in time.

    Such an error passes once the database is back (retry later), unlike a refused
    statement (a constraint, a bad value), which would fail the same way again.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _OUTAGES) or type(current).__name__ in _DRIVER_OUTAGES:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


# What an unreachable, stalled or locked database raises, through SQLAlchemy or the drivers.
_OUTAGES = (
    OSError,
    TimeoutError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)
_DRIVER_OUTAGES = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "InterfaceError",
        "QueryCanceledError",
        "AdminShutdownError",
        "CrashShutdownError",
        "OperationalError",
    }
)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for our migrations, optionally bound to a connection."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
