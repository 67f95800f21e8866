"""Benchmark /vapi/events: how fast VAPI's messages are answered, and a call's path to its score.

    python bench/vapi.py [--calls 50] [--concurrency 8] [--postgres URL]

The real aiohttp app with the /vapi/events routes, the shipped assistants and rules and
the CRM service, on a local port, over SQLite and over a fresh PostgreSQL database. Each
simulated VAPI call sends what VAPI sends: assistant-request, status-update, two
tool-calls (update_lead, book_appointment), two conversation-updates, status-update
ended, and the end-of-call report twice (VAPI retries). Prints latency percentiles per
message type (VAPI allows 7.5 s for assistant-request and 20 s by default for tools),
then the time from the stored report to the call's analysis, score and rules (deterministic
fallback analysis, no LLM). ``calls`` calls run ``concurrency`` at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.library import AssistantLibrary  # noqa: E402
from crm import api  # noqa: E402
from crm.db import Database  # noqa: E402
from crm.service import CrmService, CrmSettings  # noqa: E402
from crm.webhooks.outbox import WebhookSettings  # noqa: E402
from telephony.dependencies import CallDependencies  # noqa: E402
from telephony.vapi import routes as vapi_routes  # noqa: E402
from telephony.vapi.service import VapiService  # noqa: E402
from telephony.vapi.translate import VapiTarget  # noqa: E402
from tests.telephony import vapi_payloads as p  # noqa: E402
from voice.latency import percentile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
APPOINTMENTS = "+15555550101"


def _with(body: dict, call_id: str, customer: str) -> dict:
    message = body["message"]
    message["call"]["id"] = call_id
    message["call"]["customer"] = message["customer"] = {"number": customer}
    message["phoneNumber"]["number"] = APPOINTMENTS
    return body


async def one_call(
    http: aiohttp.ClientSession, url: str, i: int, times: dict[str, list[float]]
) -> None:
    call_id, customer = str(uuid.uuid4()), f"+1415555{i:04d}"
    day, hour = 1 + i % 28, 9 + (i // 28) % 8
    steps = [
        p.assistant_request(),
        p.status_update("in-progress"),
        p.tool_calls("update_lead", {"name": f"Lead {i}", "budget": "300k"}, f"t{i}a"),
        p.conversation_update(p.LINES[:2]),
        p.tool_calls(
            "book_appointment",
            {"start": f"2031-03-{day:02d}T{hour:02d}:00", "title": "Visit"},
            f"t{i}b",
        ),
        p.conversation_update(p.LINES),
        p.status_update("ended", "customer-ended-call"),
        p.end_of_call_report(),
        p.end_of_call_report(),
    ]
    for body in steps:
        body = _with(body, call_id, customer)
        kind = body["message"]["type"]
        started = time.perf_counter()
        async with http.post(url, json=body, headers={"X-Vapi-Secret": SECRET}) as response:
            answer = await response.json()
            assert response.status == 200, (kind, response.status, answer)
        if kind == "end-of-call-report" and answer.get("duplicate"):
            kind = "end-of-call-report (retry)"
        times[kind].append((time.perf_counter() - started) * 1000)


async def run(url_db: str, calls: int, concurrency: int) -> None:
    database = Database(url_db)
    await database.migrate()
    folder = Path(tempfile.mkdtemp()) / "assistants"
    shutil.copytree(ROOT / "assistants", folder)
    library = AssistantLibrary(folder)
    await library.load()
    crm = CrmService(
        database,
        CrmSettings(
            rules_dir=ROOT / "rules", webhooks=WebhookSettings(secret="s"), analysis_interval=0.2
        ),
        plans=library.analysis_plan,
    )
    service = VapiService(
        CallDependencies(database, library, after_call=[crm.after_call]),
        VapiTarget(events_url="https://agent.example/vapi/events", secret=SECRET),
    )
    app = web.Application(middlewares=[api.require_api_key])
    app[vapi_routes.VAPI] = service
    app.add_routes(vapi_routes.routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/vapi/events"  # type: ignore[union-attr]
    await crm.start()
    times: dict[str, list[float]] = defaultdict(list)
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def guarded(i: int) -> None:
        async with gate:
            await one_call(http, url, i, times)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(guarded(i) for i in range(calls)))
    sent = time.perf_counter() - started
    # Every report stored: wait for analysis, scoring and rules on all of them.
    from sqlalchemy import func, select

    from crm.models import Call

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with database.session() as session:
            left = await session.scalar(
                select(func.count()).where(Call.analysis_status == "pending")
            )
        if not left:
            break
        await asyncio.sleep(0.1)
    scored = time.perf_counter() - started
    async with database.session() as session:
        stored = await session.scalar(select(func.count()).select_from(Call))
        with_score = await session.scalar(select(func.count()).where(Call.lead_score.is_not(None)))
    await crm.stop()
    await runner.cleanup()
    await database.close()
    print(
        f"  {calls} VAPI calls, {concurrency} at a time: messages sent in {sent:.2f} s, "
        f"every call analysed and scored {scored:.2f} s after the first message"
    )
    print(f"  calls stored: {stored} (reports sent twice each), with a lead score: {with_score}")
    for kind, values in times.items():
        print(
            f"  {kind:28s} n={len(values):4d}  p50 {percentile(values, 50):6.1f} ms  "
            f"p95 {percentile(values, 95):6.1f} ms  max {max(values):6.1f} ms"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        await run(f"sqlite:///{tmp}/bench.db", args.calls, args.concurrency)
    name = f"phoneagent_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        print("PostgreSQL")
        await run(args.postgres.rsplit("/", 1)[0] + f"/{name}", args.calls, args.concurrency)
    finally:
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
