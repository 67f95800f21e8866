"""Alembic environment: runs on the connection the server hands over, or on DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from crm.db import async_url
from crm.models import Base

target_metadata = Base.metadata

# Full-text search objects made by hand in migrations (SQLite FTS5 tables, a PostgreSQL
# expression index) are not in the models; autogenerate must not try to drop them.
HAND_MADE = ("utterances_fts", "ix_utterances_text_fts")


def _include_name(name, type_, parent_names) -> bool:
    return not (name or "").startswith(HAND_MADE)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(async_url(url))
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Command-line use (`alembic revision --autogenerate`): DATABASE_URL or the default file.
    asyncio.run(_run_from_url(os.environ.get("DATABASE_URL", "sqlite:///data/phoneagent.db")))
