"""A server killed mid-call (kill -9): the next one settles the call it left, and says how fast."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.calls import CallStore
from crm.db import Database
from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ROOT, start_server
from tests.e2e.test_call import LINE, REPLY
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.twilio_rest import FakeTwilio

pytestmark = pytest.mark.slow


async def test_a_call_left_by_a_killed_server_is_settled_by_the_next_start(
    tmp_path: Path, postgres_url: str, llm: FakeOpenAI
):
    twilio = await FakeTwilio(auth_token="orphan-test-token").start()
    environment = {
        "DATABASE_URL": postgres_url,
        "LLM_BASE_URL": llm.url,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_API_BASE_URL": twilio.url,
        "DIALER_INSTANCE": "orphan-test-instance",
        "ASSISTANTS_DIR": str(ROOT / "assistants"),
    }
    database = Database(postgres_url)
    store = CallStore(database)
    llm.script.append(Reply(REPLY))
    try:
        first = await start_server(tmp_path, **environment)
        try:
            call = CallSimulator(first.url, auth_token=twilio.auth_token)
            await call.start()
            await call.wait_for_bot()
            await call.say(speech_ulaw(LINE), LINE)
            first.process.kill()  # SIGKILL: no shutdown, no finalization
            first.process.wait()
            await call.hang_up(abrupt=True)
        finally:
            first.stop()
        left = await store.get(call.call_id)
        assert left.ended_at is None and left.status == "in-progress"
        assert left.owner == "orphan-test-instance" and left.lease_until is not None
        # Twilio ended the call when our socket went away; its completed callback was lost.
        hung_up_at = time.time()
        twilio.know(call.call_sid, "completed", ended=hung_up_at)

        restarted = time.monotonic()
        second = await start_server(tmp_path, **environment)
        healthy = time.monotonic()
        try:
            settled = await _settled(store, call.call_id, timeout=60)
            settled_after = time.monotonic()
        finally:
            second.stop()
        print(
            f"\nrestart → settled: {settled_after - restarted:.1f} s from launch, "
            f"{settled_after - healthy:.1f} s after /healthz said ok"
        )
        assert settled.end_reason == "orphaned: server restarted"
        assert settled.status == "completed" and settled.duration_seconds > 0
        assert call.call_sid in twilio.fetched, "Twilio was asked how the call went"
        assert (
            abs(settled.ended_at - datetime.fromtimestamp(int(hung_up_at), UTC)).total_seconds() < 2
        )
        assert settled.analysis_status in {"pending", "done", "fallback"}
        lines = [(u.role, u.text.lower()) for u in settled.utterances]
        assert any(role == "user" and "next tuesday" in text for role, text in lines), lines
        assert any(role == "assistant" for role, _ in lines)
    finally:
        await database.close()
        await twilio.stop()


async def _settled(store: CallStore, call_id: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        call = await store.get(call_id, with_transcript=True)
        if call.ended_at is not None:
            return call
        assert time.monotonic() < deadline, "the orphaned call was never settled"
        await asyncio.sleep(0.1)
