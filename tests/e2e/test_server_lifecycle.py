"""Whole-server behaviour: the embedded LLM with no configuration, and shutdown during a call."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from crm.calls import CallStore
from crm.db import Database
from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ROOT, start_server
from tests.e2e.test_call import LINE
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.slow


async def test_embedded_model_answers_with_no_configuration(tmp_path: Path):
    # Laid out like the Docker image: the data folders beside nothing else, no *_DIR set, so
    # they are read from the working directory (not from where config.py is installed).
    app = tmp_path / "app"
    for folder in ("assistants", "rules", "scoring", "campaigns"):
        shutil.copytree(ROOT / folder, app / folder)
    unset = dict.fromkeys(("ASSISTANTS_DIR", "RULES_DIR", "SCORING_FILE", "CAMPAIGNS_DIR"))
    server = await start_server(
        app, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", LLM_BASE_URL="", **unset
    )
    try:
        assert "tiny demo model" in server.logs()
        _, rules = await server.get_json("/api/automation/rules")
        files = {Path(rule["file"]).parent for rule in rules["data"]}
        assert len(rules["data"]) == len(list((ROOT / "rules").glob("*.json"))), rules
        assert files == {app / "rules"}, "rules are read from the working directory"
        async with CallSimulator(server.url) as call:
            await call.wait_for_bot()
            turn = await call.say(speech_ulaw(LINE), LINE, reply_timeout=60)
        assert turn.voice_to_voice_ms is not None and turn.reply_secs > 0
        body = await server.call(call.call_id)
        roles = [line["role"] for line in body["transcript"]]
        # Greeting, the caller (one line, or two when a loaded machine hears a pause), the answer.
        assert roles[0] == "assistant" and "user" in roles, roles
        assert "assistant" in roles[roles.index("user") :], roles
    finally:
        server.stop()


async def test_shutdown_finalizes_live_calls_on_postgresql(
    tmp_path: Path, postgres_url: str, llm: FakeOpenAI
):
    server = await start_server(
        tmp_path,
        DATABASE_URL=postgres_url,
        LLM_BASE_URL=llm.url,
        ASSISTANTS_DIR=str(ROOT / "assistants"),
    )
    try:
        async with CallSimulator(server.url) as call:
            await call.wait_for_bot()
            await call.say(speech_ulaw(LINE), LINE)
            await asyncio.to_thread(server.stop)
            assert server.process.returncode == 0, server.logs()[-2000:]
    finally:
        server.stop()
    database = Database(postgres_url)
    try:
        stored = await CallStore(database).get(call.call_id, with_transcript=True)
    finally:
        await database.close()
    assert stored.end_reason == "server-shutdown" and stored.ended_at is not None
    lines = [(u.role, u.text) for u in stored.utterances]
    assert any(role == "user" and "next tuesday" in text.lower() for role, text in lines), lines
    assert any(u.role == "assistant" for u in stored.utterances)
