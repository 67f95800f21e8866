"""The real server while PostgreSQL stalls or goes away: it answers, calls go on, logs stay calm."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from crm.calls import CallStore
from crm.db import Database
from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ROOT, TWILIO_AUTH_TOKEN, ServerProcess, start_server
from tests.e2e.test_call import LINE, REPLY
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.outage import Outage

pytestmark = pytest.mark.slow


async def _get(server: ServerProcess, path: str) -> tuple[int, dict, dict, float]:
    """Status, JSON body, headers and seconds taken (the client gives up after 20 s)."""
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.get(
            server.url + path, headers={"Authorization": f"Bearer {server.api_key}"}
        ) as response:
            body = await response.json()
            return response.status, body, dict(response.headers), time.monotonic() - started


async def _webhook(server: ServerProcess, path: str, form: dict[str, str]):
    """A signed Twilio webhook: status, body, headers, seconds taken."""
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(server.url + path, form)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(
            server.url + path, data=form, headers={"X-Twilio-Signature": signature}
        ) as response:
            text = await response.text()
            return response.status, text, dict(response.headers), time.monotonic() - started


async def test_a_stalled_or_unreachable_database_gets_quick_answers_and_calm_logs(
    tmp_path: Path, postgres_url: str, llm: FakeOpenAI
):
    outage = await Outage.around(postgres_url)
    server = await start_server(
        tmp_path,
        DATABASE_URL=outage.url,
        DATABASE_CONNECT_TIMEOUT_SECS="1",
        DATABASE_STATEMENT_TIMEOUT_SECS="2",
        DIALER_TICK_SECS="0.5",
        LLM_BASE_URL=llm.url,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        ASSISTANTS_DIR=str(ROOT / "assistants"),
    )
    try:
        await outage.stall()  # sockets open, nothing answers
        status, health, _, took = await _get(server, "/healthz")
        assert status == 503 and health["database"].startswith("error"), health
        assert took < 1.5, f"/healthz took {took:.1f} s with the database stalled"

        status, body, headers, took = await _get(server, "/api/calls")
        assert status == 503 and body["error"] == "database_unavailable", body
        assert int(headers["Retry-After"]) > 0
        assert took < 8, f"/api/calls took {took:.1f} s with the database stalled"

        new_call = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "From": "+15555550123",
            "To": "+15555550199",
        }
        status, twiml, _, took = await _webhook(server, "/twilio/voice", new_call)
        assert status == 200 and "<Stream" in twiml, twiml
        assert took < 8, f"the voice webhook took {took:.1f} s (Twilio gives up at 15 s)"

        await outage.end()
        await outage.begin()  # now the database host is gone altogether
        status, body, _, took = await _get(server, "/api/leads")
        assert status == 503 and body["error"] == "database_unavailable" and took < 5, body
        ended = {"CallSid": new_call["CallSid"], "CallStatus": "completed", "CallDuration": "4"}
        status, _, headers, _ = await _webhook(server, "/twilio/status", ended)
        assert status == 503 and int(headers["Retry-After"]) > 0, "not aiohttp's 500 page"
        await asyncio.sleep(3)  # several dialer ticks and worker steps fail meanwhile
        await outage.end()

        deadline = time.monotonic() + 20
        while (await _get(server, "/healthz"))[0] != 200:
            assert time.monotonic() < deadline, "the server did not see the database come back"
            await asyncio.sleep(0.5)
        status, _, _, _ = await _get(server, "/api/calls")
        assert status == 200
        await asyncio.sleep(2)  # a dialer tick after the recovery
    finally:
        server.stop()
        await outage.close()
    logs = server.logs()
    dialer_down = [line for line in logs.splitlines() if "dialer" in line and "unavailable" in line]
    dialer_back = [
        line for line in logs.splitlines() if "dialer" in line and "database back" in line
    ]
    assert len(dialer_down) == 1 and len(dialer_back) == 1, dialer_down + dialer_back
    assert "dialer tick failed" not in logs
    assert "Error handling request" not in logs, "aiohttp's 500 page (a traceback per request)"


@pytest.mark.parametrize("away", ["down", "stalled"])
async def test_a_call_that_arrives_while_the_database_is_away_is_answered_and_kept(
    tmp_path: Path, postgres_url: str, llm: FakeOpenAI, away: str
):
    outage = await Outage.around(postgres_url)
    server = await start_server(
        tmp_path,
        DATABASE_URL=outage.url,
        DATABASE_CONNECT_TIMEOUT_SECS="1",
        DATABASE_STATEMENT_TIMEOUT_SECS="2",
        LLM_BASE_URL=llm.url,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        ASSISTANTS_DIR=str(ROOT / "assistants"),
    )
    llm.script.append(Reply(REPLY))
    try:
        await (outage.begin() if away == "down" else outage.stall())
        async with CallSimulator(server.url, auth_token=TWILIO_AUTH_TOKEN) as call:
            await call.wait_for_bot()
            # the media starts without waiting on the database (its row, its recording)
            assert call.greeting_ms is not None and call.greeting_ms < 4000, call.greeting_ms
            print(f"\n{away}: greeting {call.greeting_ms:.0f} ms after the media started")
            turn = await call.say(speech_ulaw(LINE), LINE)
            assert turn.voice_to_voice_ms is not None, "the assistant talks without the database"
        await asyncio.sleep(3)  # the caller hung up; the call ends while the database is away
        await outage.end()
        deadline = time.monotonic() + 60
        while True:  # the call's row is written once the database is back
            status, body, _, _ = await _get(server, f"/api/calls/{call.call_id}")
            if status == 200 and body.get("endedAt") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        server.stop()
        await outage.close()
    assert "answering anyway" in server.logs()
    assert body["endedAt"] and body["status"] == "completed", body
    assert body["endReason"] == "caller-hangup", "its end was written once the database was back"
    roles = [line["role"] for line in body["transcript"]]
    assert roles[:2] == ["assistant", "user"] and REPLY in [
        line["text"] for line in body["transcript"]
    ], body["transcript"]
    database = Database(postgres_url)
    try:
        assert await CallStore(database).get(call.call_id) is not None
    finally:
        await database.close()
