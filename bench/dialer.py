"""Benchmark: dial throughput of one and two dialer instances, and the double-dial check.

    python bench/dialer.py --contacts 500 [--postgres postgresql://postgres@127.0.0.1:5432/test]

Each run gets a fresh database (a new PostgreSQL database, or a SQLite file), our real
Twilio routes on a real port, and a fake Twilio REST API that answers at once. It
prints calls placed per second and whether any number was dialled twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.db import Database  # noqa: E402
from crm.models import Campaign, Lead, utcnow  # noqa: E402
from crm.outbound.campaign_spec import CampaignSpec  # noqa: E402
from crm.outbound.campaigns import apply_spec  # noqa: E402
from telephony.outbound.dialer import Dialer  # noqa: E402
from tests.fakes.twilio_rest import FakeTwilio  # noqa: E402
from tests.telephony.rig import serve_twilio_routes  # noqa: E402


async def fresh_database(postgres: str | None, folder: Path) -> tuple[str, str | None]:
    if not postgres:
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}", None
    name = f"phoneagent_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return postgres.rsplit("/", 1)[0] + f"/{name}", name


async def run(url: str, contacts: int, instances: int) -> tuple[float, int, int, list[int]]:
    """Dial every contact once; returns (seconds, calls, numbers dialled twice, calls each)."""
    db = Database(url)
    await db.migrate()
    async with db.session() as session:
        for i in range(contacts):
            session.add(
                Lead(phone=f"+1646{5550000 + i:07d}", source="bench", timezone="America/New_York")
            )
        campaign = Campaign(status="active", started_at=utcnow())
        apply_spec(
            campaign,
            CampaignSpec.model_validate(
                {
                    "name": "bench",
                    "assistant": "default",
                    "audience": {},
                    "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
                    "limits": {"maxAttempts": 1, "maxConcurrent": 200},
                }
            ),
        )
        session.add(campaign)
    twilio = await FakeTwilio(ring_secs=0.0, talk_secs=0.0).start()
    server, _, providers = await serve_twilio_routes(db, twilio, utcnow)
    engines = [Database(url) for _ in range(instances)]
    dialers = [
        Dialer(e, providers, default_from="+15555550000", instance=f"bench-{i}")
        for i, e in enumerate(engines)
    ]

    async def drive(dialer: Dialer) -> None:
        while sum(d.placed for d in dialers) < contacts:
            await dialer.tick()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(drive(d) for d in dialers)), timeout=600)
    elapsed = time.monotonic() - started
    await twilio.idle()
    numbers = [c.to for c in twilio.calls]
    twice = len(numbers) - len(set(numbers))
    for provider in providers.values():
        await provider.close()
    await server.close()
    await twilio.stop()
    for engine in [*engines, db]:
        await engine.close()
    return elapsed, len(numbers), twice, [d.placed for d in dialers]


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp())
    backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    print(f"{args.contacts} contacts, each to be dialled exactly once")
    for label, postgres in backends:
        for instances in (1, 2):
            url, name = await fresh_database(postgres, folder)
            elapsed, calls, twice, split = await run(url, args.contacts, instances)
            print(
                f"  {label:<10} {instances} instance(s): {calls} calls in {elapsed:5.1f}s = "
                f"{calls / elapsed:6.1f} calls/s; dialled twice: {twice}; per instance: {split}"
            )
            if name:
                admin = await asyncpg.connect(postgres)
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    asyncio.run(main(parser.parse_args()))
