"""Benchmark a big CSV import against the event loop: how long the loop is held while it runs.

    python bench/import_lag.py [--rows 24000] [--postgres URL]

The real admin API on a local port imports ``--rows`` new leads from one ``text/csv`` body
while a ticker on the same loop asks for a 5 ms sleep over and over (a live call's audio
pacing is such a timer); the report is the import's time and the ticker's worst and p99
overshoot (the loop lag) during it, next to the same ticker's overshoot over as long a time
with nothing to do (what the machine's other load alone costs).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm import api
from crm.calls import CallStore
from crm.db import Database
from crm.service import CrmService, CrmSettings
from tests.conftest import free_port
from voice.latency import percentile

KEY = "bench-key"
TICK = 0.005


def csv_body(rows: int) -> bytes:
    lines = ["phone,name,email,company,tags,plan"]
    lines += [
        f"+1415{i:07d},Lead Number {i},lead{i}@example.com,Company {i % 97},web;csv,fiber-{i % 3}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    """Sleep TICK again and again; each overshoot is time the loop could not run us."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK)
        lags.append(time.perf_counter() - start - TICK)


async def run(database_url: str, rows: int) -> dict[str, float]:
    db = Database(database_url)
    await db.migrate()
    crm = CrmService(db, CrmSettings())
    app = web.Application(middlewares=[api.require_api_key])
    app[api.STORE], app[api.API_KEY], app[api.CRM] = CallStore(db), KEY, crm
    app.add_routes(api.routes)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    body = csv_body(rows)
    lags: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(ticker(lags, stop))
    start = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://127.0.0.1:{port}/api/leads/import",
            data=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/csv"},
        ) as response:
            report = await response.json()
            assert response.status == 201, report
    took = time.perf_counter() - start
    stop.set()
    await task
    idle: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(ticker(idle, stop))
    await asyncio.sleep(took)
    stop.set()
    await task
    await runner.cleanup()
    await db.close()
    assert report["created"] == rows, report
    return {
        "import_s": took,
        "lag_max_ms": max(lags) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
        "idle_max_ms": max(idle) * 1000,
        "idle_p99_ms": percentile(idle, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to run on too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            targets.append(("postgresql", args.postgres))
        for name, url in targets:
            result = asyncio.run(run(url, args.rows))
            print(
                f"{name}: {args.rows} rows imported in {result['import_s']:.1f} s; loop lag "
                f"max {result['lag_max_ms']:.0f} ms, p99 {result['lag_p99_ms']:.0f} ms "
                f"(idle, as long: max {result['idle_max_ms']:.0f} ms, "
                f"p99 {result['idle_p99_ms']:.0f} ms)"
            )


if __name__ == "__main__":
    main()
