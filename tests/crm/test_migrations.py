"""Migrations: several instances starting at once on one fresh PostgreSQL database."""

from __future__ import annotations

import asyncio

from alembic.script import ScriptDirectory
from sqlalchemy import text

from crm.db import Database, alembic_config
from tests.conftest import _create_postgres_database, _drop_postgres_database


async def test_instances_starting_at_once_migrate_a_fresh_database_one_after_the_other():
    url = await _create_postgres_database()
    instances = [Database(url) for _ in range(4)]  # an engine each, as separate processes
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(db.migrate() for db in instances), return_exceptions=True), 60
        )
        assert [r for r in results if r is not None] == [], "every instance started"
        async with instances[0].session() as session:
            versions = list(await session.scalars(text("SELECT version_num FROM alembic_version")))
        assert versions == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
    finally:
        for db in instances:
            await db.close()
        await _drop_postgres_database(url)
