"""Benchmark the CRM: post-call analysis time per call, calls-list API latency over 10,000 calls.

    python bench/crm.py [--calls 10000] [--analyses 40] [--requests 100] [--postgres URL]

Analysis runs in-process against the scripted OpenAI-compatible server (real HTTP on
127.0.0.1) and without an LLM (the deterministic fallback). The API is the real aiohttp
app on a local port, over SQLite and over a fresh PostgreSQL database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm import api
from crm.analysis.llm import LLMSettings
from crm.analysis.plan import AnalysisPlan
from crm.analysis.transcript import CallFacts, Transcript
from crm.calls import CallStore
from crm.db import Database
from crm.models import Call, Lead, Utterance
from crm.service import CrmService, CrmSettings
from tests.fakes.openai_server import FakeOpenAI
from voice.latency import percentile

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
CALLER = [
    "Hi, how much does the fiber plan cost per month?",
    "Do you have coverage in my area?",
    "That sounds great, I need it next week.",
    "It's a bit expensive for me.",
    "Can you call me back tomorrow?",
    "Hola, ¿cuánto cuesta el plan de internet?",
    "Me interesa, pero tengo que hablar con mi esposa.",
    "No thanks, I'm not interested.",
    "What speed do I get with the basic plan?",
    "Yes please, book the visit.",
]
BOT = [
    "Hi, thanks for calling. How can I help?",
    "It is 45 dollars a month.",
    "Yes, we cover your area.",
    "Would you like to book an installation visit?",
    "Of course, I will note that.",
]
OUTCOMES = ["interested", "not_interested", "callback", "converted", "no_answer", "voicemail"]


def row(values: list[float]) -> str:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={len(values)})"


async def seed(db: Database, calls: int) -> None:
    """``calls`` analysed calls with 6–10 lines each, over 90 days, for 3,000 leads."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    leads = [
        {
            "id": uuid.uuid4().hex,
            "phone": f"+1415{5_000_000 + i:07d}",
            "stage": "contacted",
            "score": rng.randint(0, 100),
            "tags": [],
            "custom_fields": {},
            "do_not_call": False,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(3000)
    ]
    call_rows, line_rows = [], []
    for i in range(calls):
        call_id, created = uuid.uuid4().hex, now - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
        call_rows.append(
            {
                "id": call_id,
                "provider": "twilio",
                "provider_call_id": f"CA{call_id}",
                "direction": "inbound",
                "from_number": leads[i % 3000]["phone"],
                "to_number": "+15555550199",
                "assistant": f"assistant-{i % 3}",
                "status": "completed",
                "created_at": created,
                "updated_at": created,
                "started_at": created,
                "answered_at": created,
                "ended_at": created + timedelta(seconds=90),
                "duration_seconds": 90.0,
                "end_reason": "caller-hangup",
                "extra": {},
                "lead_id": leads[i % 3000]["id"],
                "campaign_id": f"c{i % 5}",
                "analysis_status": "done",
                "analysis_attempts": 1,
                "outcome": rng.choice(OUTCOMES),
                "sentiment_score": round(rng.uniform(-1, 1), 2),
                "lead_score": rng.randint(0, 100),
                "summary": "A call.",
            }
        )
        for seq in range(1, rng.randint(6, 10) + 1):
            text = rng.choice(CALLER) if seq % 2 == 0 else rng.choice(BOT)
            if seq == 2 and i % 100 == 0:
                text += " I already have Movistar."  # a rare word: 1 call in 100
            line_rows.append(
                {
                    "call_id": call_id,
                    "seq": seq,
                    "role": "user" if seq % 2 == 0 else "assistant",
                    "text": text,
                    "interrupted": False,
                    "created_at": created,
                }
            )
    async with db.session() as session:
        await session.execute(insert(Lead), leads)
        for start in range(0, len(call_rows), 2000):
            await session.execute(insert(Call), call_rows[start : start + 2000])
        for start in range(0, len(line_rows), 5000):
            await session.execute(insert(Utterance), line_rows[start : start + 5000])
    print(f"  seeded {calls} calls, {len(line_rows)} transcript lines, {len(leads)} leads")


QUERIES = {
    "first page (50)": "/api/calls",
    "filters: 30 days, outcome, score >= 60": (
        "/api/calls?from={from_}&outcome=interested,converted&minScore=60"
    ),
    "search: common words ('fiber plan')": "/api/calls?q=fiber%20plan",
    "search: rare word ('movistar')": "/api/calls?q=movistar",
    "search + filters": "/api/calls?q=expensive&assistant=assistant-1&from={from_}",
    "page 100 (offset 4950)": "/api/calls?offset=4950",
}


async def api_latency(url: str, requests: int) -> None:
    db = Database(url)
    await db.migrate()
    await seed(db, ARGS.calls)
    app = web.Application(middlewares=[api.require_api_key])
    app[api.API_KEY] = KEY
    app[api.STORE] = CallStore(db)
    app[api.CRM] = CrmService(db, CrmSettings(rules_dir=ROOT / "rules"))
    app.add_routes(api.routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    from_ = (datetime.now(UTC) - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        for label, path in QUERIES.items():
            path = path.format(from_=from_)
            times, total = [], 0
            for i in range(requests + 5):
                started = time.perf_counter()
                async with http.get(base + path) as response:
                    body = await response.json()
                    assert response.status == 200, body
                if i >= 5:  # warm-up
                    times.append((time.perf_counter() - started) * 1000)
                total = body["total"]
            print(f"  {label:<42} {row(times)}   {total} matching")
    await runner.cleanup()
    await db.close()


async def analysis_time(analyses: int) -> None:
    fake = await FakeOpenAI().start()
    lines = [
        ("assistant", BOT[0]),
        ("user", CALLER[0]),
        ("assistant", BOT[1]),
        ("user", CALLER[2]),
        ("assistant", BOT[3]),
        ("user", CALLER[9]),
    ]
    transcript, plan = Transcript.from_pairs(lines), AnalysisPlan()
    for label, llm in (
        ("LLM (fake server, JSON mode)", LLMSettings(base_url=fake.url, model="fake")),
        ("fallback (no LLM)", None),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db")
            await db.migrate()
            crm = CrmService(db, CrmSettings(rules_dir=ROOT / "rules", llm=llm))
            analyzer_ms, job_ms = [], []
            for i in range(analyses):
                started = time.perf_counter()
                await crm.analyzer.analyze(
                    CallFacts(f"bench-{i}", duration_seconds=60), transcript, plan
                )
                analyzer_ms.append((time.perf_counter() - started) * 1000)
                call_id = await one_call(db, i, lines)
                started = time.perf_counter()
                assert await crm.job.run(call_id) in ("done", "fallback")
                job_ms.append((time.perf_counter() - started) * 1000)
            await crm.stop()
            await db.close()
        print(f"  {label:<30} analysis only: {row(analyzer_ms)}")
        print(
            f"  {'':<30} whole job:     {row(job_ms)}  (analysis, score, stage, rules, webhooks, "
            f"commit)"
        )
    await fake.stop()


async def one_call(db: Database, i: int, lines: list[tuple[str, str]]) -> str:
    from tests.crm.conftest import record_call  # the same helper the tests use

    return (await record_call(db, lines, phone=f"+1415555{i:04d}", sid=f"CA-bench-{i}")).id


async def main() -> None:
    print(f"Post-call analysis, {ARGS.analyses} calls of 6 lines (SQLite):")
    await analysis_time(ARGS.analyses)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\nGET /api/calls over {ARGS.calls} calls, SQLite ({ARGS.requests} requests each):")
        await api_latency(f"sqlite:///{tmp}/api.db", ARGS.requests)
    admin = ARGS.postgres
    name = f"phoneagent_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        print(
            f"\nGET /api/calls over {ARGS.calls} calls, PostgreSQL ({ARGS.requests} requests each):"
        )
        await api_latency(admin.rsplit("/", 1)[0] + f"/{name}", ARGS.requests)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--analyses", type=int, default=40)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ARGS = parser.parse_args()
    asyncio.run(main())
