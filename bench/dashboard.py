"""Benchmark the dashboard's calls list in headless chromium over 10,000 calls (SQLite, PostgreSQL).

    python bench/dashboard.py [--calls 10000] [--loads 20] [--postgres URL]

The real API and web routes run in-process on a local port over a database seeded like
bench/crm.py's (10,000 analysed calls with transcripts, 3,000 leads); Debian's chromium,
driven by Playwright, signs in through the page and then loads the calls list. Printed:
a full page load (navigation to the first page of rows rendered: HTML, modules, session,
the lists the filters need, the calls), page 100, a filtered list, and a transcript search
from the last key pressed (including the page's 250 ms typing pause) to its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web
from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent import api as agent_api  # noqa: E402
from agent.library import AssistantLibrary  # noqa: E402
from crm import api  # noqa: E402
from crm.calls import CallStore  # noqa: E402
from crm.db import Database  # noqa: E402
from crm.service import CrmService, CrmSettings  # noqa: E402
from voice.latency import percentile  # noqa: E402
from web import routes as web_routes  # noqa: E402

KEY = "bench-key"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _seed():
    """bench/crm.py's seeding (the same 10,000 calls its API numbers are measured on)."""
    spec = importlib.util.spec_from_file_location("bench_crm", ROOT / "bench" / "crm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed


def row(values: list[float]) -> str:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={len(values)})"


async def serve(db: Database) -> tuple[web.AppRunner, str]:
    library = AssistantLibrary(ROOT / "assistants")
    await library.load()
    app = web.Application(middlewares=[api.require_api_key])
    app[api.API_KEY], app[api.STORE] = KEY, CallStore(db)
    app[api.CRM] = CrmService(db, CrmSettings(rules_dir=ROOT / "rules"))
    app[agent_api.ASSISTANTS] = library
    for table in (api.routes, agent_api.routes, web_routes.routes):
        app.add_routes(table)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def load(page: Page, url: str) -> float:
    """Load the page afresh and wait for the list's rows; ms since its navigation started."""
    await page.goto("about:blank")  # else a new hash is the same document, and its clock runs on
    await page.goto(url)
    await page.wait_for_selector("#calls-results tr.link")
    return await page.evaluate("performance.now()")


async def search(page: Page, words: str, calls: int) -> float:
    """Type a search; ms from the last key to its rows."""
    await page.fill("input[name=q]", "")  # back to the whole list first
    await page.wait_for_function(
        f"() => document.querySelector('#calls-results').dataset.total === '{calls}'"
    )
    await page.evaluate("document.querySelector('#calls-results').dataset.total = ''")
    started = time.perf_counter()
    await page.fill("input[name=q]", words)
    await page.wait_for_function(
        "() => document.querySelector('#calls-results').dataset.total !== ''"
    )
    return (time.perf_counter() - started) * 1000


async def measure(url: str, loads: int, calls: int) -> None:
    db = Database(url)
    await db.migrate()
    await _seed()(db, calls)
    runner, base = await serve(db)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        await page.goto(base + "/")
        await page.fill("#api-key", KEY)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#calls-results tr.link")
        cases = {
            "calls list, first page (full page load)": "/#/calls",
            "page 100 (offset 4950)": "/#/calls?offset=4950",
            "filtered: outcome, band, assistant": (
                "/#/calls?outcome=interested&band=hot&assistant=assistant-1"
            ),
        }
        for label, path in cases.items():
            times = [await load(page, base + path) for _ in range(loads + 2)][2:]
            print(f"  {label:<42} {row(times)}")
        await load(page, base + "/#/calls")
        for words in ("fiber plan", "movistar"):
            times = [await search(page, words, calls) for _ in range(loads + 1)][1:]
            print(f"  {'search ' + repr(words) + ' (250 ms pause incl.)':<42} {row(times)}")
        await browser.close()
    await runner.cleanup()
    await db.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Dashboard calls list over {ARGS.calls} calls, SQLite ({ARGS.loads} loads each):")
        await measure(f"sqlite:///{tmp}/dashboard.db", ARGS.loads, ARGS.calls)
    admin = ARGS.postgres
    name = f"phoneagent_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        print(
            f"\nDashboard calls list over {ARGS.calls} calls, PostgreSQL ({ARGS.loads} loads each):"
        )
        await measure(admin.rsplit("/", 1)[0] + f"/{name}", ARGS.loads, ARGS.calls)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ARGS = parser.parse_args()
    asyncio.run(main())
