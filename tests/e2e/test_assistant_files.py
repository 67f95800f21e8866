"""Assistant files on a running server: what loaded, unavailable ones, reloads, broken files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import pytest

from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess, start_server
from tests.e2e.assistants import TOOLS_LINE, UNAVAILABLE_LINE
from tests.e2e.test_tool_calls import caller
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.slow


async def post(server: ServerProcess, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            server.url + path, headers={"Authorization": f"Bearer {server.api_key}"}
        ) as response:
            return response.status, await response.json()


async def test_the_example_assistants_are_listed(server: ServerProcess):
    status, body = await server.get_json("/api/assistants")
    assert status == 200 and body["default"] == "default"
    listed = {a["name"]: a for a in body["data"]}
    assert set(listed) == {
        "default",
        "appointment-setter-en",
        "collections-en",
        "post-sale-checkin-en",
        "inmobiliaria-es",
        "telecom-es",
    }
    assert all(a["available"] for a in listed.values()), "every example runs on a fresh checkout"
    assert {"name": "book_appointment", "kind": "built-in"} in listed["appointment-setter-en"][
        "tools"
    ]

    status, one = await server.get_json("/api/assistants/collections-en")
    assert status == 200 and one["assistant"]["maxDurationSeconds"] == 480
    assert (
        one["analysis"]["structuredDataSchema"]["properties"]["outcome"]["enum"][0]
        == "promise-to-pay"
    )
    assert (await server.get_json("/api/assistants/nobody"))[0] == 404


async def test_the_api_never_shows_webhook_secrets(tools_server: ServerProcess):
    status, one = await tools_server.get_json("/api/assistants/tools-test")
    assert status == 200
    [stock] = [
        t
        for t in one["assistant"]["model"]["tools"]
        if (t.get("function") or {}).get("name") == "check_stock"
    ]
    assert stock["server"]["secret"] == "***" and "tool-secret" not in json.dumps(one)


async def test_a_call_to_an_unavailable_assistant_gets_a_polite_message(
    tools_server: ServerProcess,
):
    status, listed = await tools_server.get_json("/api/assistants")
    [entry] = [a for a in listed["data"] if a["name"] == "unavailable-test"]
    assert not entry["available"] and "whisper-small" in entry["unavailableReason"]
    assert "assistant 'unavailable-test' (unavailable-test.json) is unavailable" in (
        tools_server.logs()
    )
    call = CallSimulator(
        tools_server.url, auth_token=tools_server.auth_token, to_number=UNAVAILABLE_LINE
    )
    call._http = aiohttp.ClientSession()
    try:
        form = {
            "CallSid": call.call_sid,
            "AccountSid": call.account_sid,
            "From": "+34612345678",
            "To": UNAVAILABLE_LINE,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        async with await call.post_webhook("/twilio/voice", form) as response:
            twiml = ET.fromstring(await response.text())
    finally:
        await call._http.close()
    say = twiml.find("Say")
    assert say is not None and say.get("language") == "es-ES" and "no está disponible" in say.text
    assert twiml.find("Hangup") is not None and twiml.find("Connect") is None
    _, calls = await tools_server.get_json("/api/calls?limit=1")
    assert calls["data"][0]["endReason"] == "assistant-unavailable"


def _prompt(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "system")


async def test_reload_refuses_broken_files_and_never_changes_a_live_call(
    tools_server: ServerProcess, llm: FakeOpenAI
):
    folder = Path((await tools_server.get_json("/api/assistants"))[1]["folder"])
    path = folder / "tools-test.json"
    original = path.read_text()
    try:
        (folder / "zz-broken.json").write_text('{"name": "zz", "silenceTimeoutSeconds": -1}')
        status, body = await post(tools_server, "/api/assistants/reload")
        assert (
            status == 422
            and "zz-broken.json: $.silenceTimeoutSeconds: "
            "Input should be greater than or equal to 1"
            in body["detail"]
        )
        (folder / "zz-broken.json").unlink()

        async with caller(tools_server, "+15555550131", TOOLS_LINE) as call:
            await call.wait_for_bot()
            changed = json.loads(original)
            changed["model"]["messages"][0]["content"] = "You are the NEW prompt."
            path.write_text(json.dumps(changed))
            status, body = await post(tools_server, "/api/assistants/reload")
            assert status == 200 and body["reload"]["changed"] == ["tools-test"]
            await call.say(speech_ulaw("Hello, are you open today?"), "question")
        assert "You are a test assistant" in _prompt(llm.requests[-1]), (
            "the live call kept its assistant"
        )
        status, one = await tools_server.get_json("/api/assistants/tools-test")
        assert one["assistant"]["model"]["messages"][0]["content"] == "You are the NEW prompt."
    finally:
        path.write_text(original)
        (folder / "zz-broken.json").unlink(missing_ok=True)
        await post(tools_server, "/api/assistants/reload")


async def test_a_broken_file_stops_the_server_at_start(tmp_path: Path):
    folder = tmp_path / "assistants"
    folder.mkdir()
    (folder / "sales.json").write_text(
        '{"name": "sales", "model": {"tools": [{"type": "function", "function": {"name": "fly"}}]}}'
    )
    with pytest.raises(RuntimeError) as error:
        await start_server(
            tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", ASSISTANTS_DIR=str(folder)
        )
    message = str(error.value)
    assert "exited with 2" in message
    assert (
        f"Cannot start: {folder / 'sales.json'}: $.model.tools[0].function.name: "
        f"'fly' is not a built-in tool" in message
    )
