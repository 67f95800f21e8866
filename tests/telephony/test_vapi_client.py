"""The VAPI REST client and ``phoneagent-vapi`` against a fake VAPI (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent import vapi_ids as ids
from agent.assistant_files import load_assistant
from telephony.vapi.client import VapiClient, VapiError
from telephony.vapi.translate import VapiSettingError, VapiTarget, vapi_assistant
from tests.conftest import free_port
from tests.fakes.vapi_rest import FakeVapi

ROOT = Path(__file__).resolve().parents[2]
TARGET = VapiTarget(events_url="https://agent.example/vapi/events", secret="s3cret")


@pytest.fixture
async def fake_vapi():
    server = await FakeVapi(play_calls=False).start()
    yield server
    await server.stop()


def translated(name: str, target: VapiTarget = TARGET) -> dict:
    path = ROOT / "assistants" / f"{name}.json"
    return vapi_assistant(load_assistant(path), target)


# Translation


def test_local_providers_become_the_configured_vapi_ones_and_the_rest_is_kept():
    raw = json.loads((ROOT / "assistants" / "appointment-setter-en.json").read_text())
    body = translated("appointment-setter-en")
    assert body["model"]["provider"] == "openai" and body["model"]["model"] == "gpt-4o-mini"
    assert (
        body["model"]["messages"] == raw["model"]["messages"]
        and body["model"]["temperature"] == 0.3
    )
    assert body["voice"] == {"provider": "vapi", "voiceId": "Elliot"}
    assert body["transcriber"] == {"provider": "deepgram", "model": "nova-2", "language": "en"}
    for key in (
        "firstMessage",
        "firstMessageMode",
        "endCallPhrases",
        "silenceTimeoutSeconds",
        "maxDurationSeconds",
        "forwardingPhoneNumber",
    ):
        assert body[key] == raw[key], key
    for key in ("phoneNumbers", "provider", "vapi", "variableValues"):
        assert key not in body
    assert body["server"] == {"url": "https://agent.example/vapi/events", "secret": "s3cret"}
    assert body["metadata"]["phoneagent"] == {"assistant": "appointment-setter-en"}
    assert "end-of-call-report" in body["serverMessages"] and "tool-calls" in body["serverMessages"]


def test_builtin_tools_run_here_and_call_tools_become_vapis_own():
    tools = {
        t.get("function", {}).get("name", t["type"]): t
        for t in translated("appointment-setter-en")["model"]["tools"]
    }
    book = tools["book_appointment"]
    assert book["server"] == {"url": "https://agent.example/vapi/events", "secret": "s3cret"}
    assert book["function"]["parameters"]["properties"]["start"]["type"] == "string"
    assert book["function"]["description"]
    assert tools["transferCall"]["destinations"] == [{"type": "number", "number": "+15555550150"}]
    assert tools["endCall"]["messages"][0]["content"].startswith("Thanks for calling")
    assert "transfer_to_human" not in tools


def test_queue_destinations_stay_ours_and_numbers_go_to_vapi(tmp_path: Path):
    path = tmp_path / "queues.json"
    transfer = {
        "type": "transferCall",
        "destinations": [
            {"type": "queue", "queue": "sales"},
            {"type": "number", "number": "+15555550150"},
        ],
    }
    path.write_text(json.dumps({"name": "queues", "model": {"tools": [transfer]}}))
    [tool] = vapi_assistant(load_assistant(path), TARGET)["model"]["tools"]
    assert tool["destinations"] == [{"type": "number", "number": "+15555550150"}], (
        "VAPI cannot reach our agents' queues"
    )


def test_webhook_tools_keep_their_own_server_and_a_real_llm_is_kept():
    from tests.e2e.assistants import test_assistants

    data = next(
        iter(
            d
            for d in test_assistants("http://tools.example/hook").values()
            if any(t.get("server") for t in d["model"].get("tools", []))
        ),
        None,
    )
    if data is None:
        pytest.skip("no webhook assistant among the e2e assistants")
    data = {**data, "model": {**data["model"], "provider": "openai", "model": "gpt-4.1"}}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"webhook-{os.getpid()}.json"
    path.write_text(json.dumps(data))
    try:
        body = vapi_assistant(load_assistant(path), TARGET)
    finally:
        path.unlink()
    assert body["model"]["provider"] == "openai" and body["model"]["model"] == "gpt-4.1"
    hooks = [
        t
        for t in body["model"]["tools"]
        if t.get("server", {}).get("url", "").startswith("http://tools.example")
    ]
    assert hooks


def test_per_assistant_and_server_wide_vapi_choices():
    target = VapiTarget.from_settings(
        "https://a.example/",
        "x",
        model='{"provider": "groq", "model": "llama-3.1-8b"}',
        voice='{"provider": "11labs", "voiceId": "abc"}',
    )
    body = translated("telecom-es", target)
    assert body["model"]["provider"] == "groq" and body["voice"]["provider"] == "11labs"
    assert body["transcriber"]["language"] == "es"
    assert target.events_url == "https://a.example/vapi/events"
    with pytest.raises(VapiSettingError, match="VAPI_VOICE"):
        VapiTarget.from_settings("https://a", "x", voice="[1, 2]")
    with pytest.raises(VapiSettingError, match="VAPI_MODEL: not valid JSON"):
        VapiTarget.from_settings("https://a", "x", model="{oops")


# The client


async def test_create_update_list_and_get(fake_vapi):
    async with VapiClient(fake_vapi.api_key, fake_vapi.url) as client:
        created = await client.create_assistant(translated("default"))
        updated = await client.update_assistant(
            created["id"], {**translated("default"), "firstMessage": "Hello!"}
        )
        listed = await client.list_assistants()
        got = await client.get_assistant(created["id"])
    assert updated["id"] == created["id"] and got["firstMessage"] == "Hello!"
    assert [a["id"] for a in listed] == [created["id"]]
    assert [(r.method, r.path.split("?")[0]) for r in fake_vapi.requests] == [
        ("POST", "/assistant"),
        ("PATCH", f"/assistant/{created['id']}"),
        ("GET", "/assistant"),
        ("GET", f"/assistant/{created['id']}"),
    ]
    assert all(r.authorization == f"Bearer {fake_vapi.api_key}" for r in fake_vapi.requests)


async def test_errors_are_clear_messages(fake_vapi):
    async with VapiClient("wrong-key", fake_vapi.url) as client:
        with pytest.raises(VapiError, match="refused the API key") as refused:
            await client.list_assistants()
    assert refused.value.status == 401
    async with VapiClient(fake_vapi.api_key, fake_vapi.url) as client:
        with pytest.raises(
            VapiError,
            match=r"POST /call failed \(400\): phoneNumberId must be a string; customer.number",
        ):
            await client.create_call({"assistantId": "x"})
        with pytest.raises(VapiError, match="404.*Couldn't Find Call"):
            await client.get_call("nope")
    async with VapiClient("k", f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(VapiError, match="not reachable"):
            await client.get_call("x")
    with pytest.raises(VapiError, match="VAPI_API_KEY is not set"):
        VapiClient("", fake_vapi.url)


# phoneagent-vapi


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "telephony.vapi.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


async def test_push_creates_then_updates_and_keeps_the_id_beside_the_file(fake_vapi, tmp_path):
    folder = tmp_path / "assistants"
    shutil.copytree(ROOT / "assistants", folder)
    env = {
        "VAPI_API_KEY": fake_vapi.api_key,
        "VAPI_BASE_URL": fake_vapi.url,
        "PUBLIC_URL": "https://agent.example",
        "VAPI_SECRET": "s3cret",
        "DATA_DIR": str(tmp_path / "data"),
        "ASSISTANTS_DIR": str(folder),
    }
    first = await _cli(env, tmp_path, "push", str(folder / "default.json"))
    assert first.returncode == 0, first.stderr
    record = ids.pushed(folder / "default.json")
    assert record and record.sha256 == load_assistant(folder / "default.json").sha256
    assert f"default: created VAPI assistant {record.assistant_id}" in first.stdout
    pushed = fake_vapi.assistants[record.assistant_id]
    assert pushed["server"] == {"url": "https://agent.example/vapi/events", "secret": "s3cret"}

    again = await _cli(env, tmp_path, "push", "--all")
    assert again.returncode == 0, again.stderr
    assert f"default: updated VAPI assistant {record.assistant_id}" in again.stdout
    assert len(fake_vapi.assistants) == len(list(folder.glob("*.json")))

    del fake_vapi.assistants[
        record.assistant_id
    ]  # deleted in VAPI's dashboard: pushed again as new
    third = await _cli(env, tmp_path, "push", str(folder / "default.json"))
    assert third.returncode == 0 and "default: created" in third.stdout
    assert ids.pushed(folder / "default.json").assistant_id != record.assistant_id

    listed = await _cli(env, tmp_path, "list")
    assert (
        listed.returncode == 0 and ids.pushed(folder / "default.json").assistant_id in listed.stdout
    )


async def test_cli_errors_are_one_line_not_tracebacks(fake_vapi, tmp_path):
    env = {"VAPI_API_KEY": "wrong", "VAPI_BASE_URL": fake_vapi.url, "DATA_DIR": str(tmp_path)}
    refused = await _cli(env, tmp_path, "push", str(ROOT / "assistants" / "default.json"))
    assert refused.returncode == 1 and "error: VAPI refused the API key" in refused.stderr
    assert "Traceback" not in refused.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "model": {"temperature": 9}}')
    invalid = await _cli({**env, "VAPI_API_KEY": fake_vapi.api_key}, tmp_path, "push", str(broken))
    assert (
        invalid.returncode == 2
        and "$.model.temperature" in invalid.stderr
        and "Traceback" not in invalid.stderr
    )
    dry = await _cli(
        {"DATA_DIR": str(tmp_path)},
        tmp_path,
        "push",
        "--dry-run",
        str(ROOT / "assistants" / "default.json"),
    )
    assert dry.returncode == 0 and json.loads(dry.stdout)["name"] == "default"
    assert not fake_vapi.assistants


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    import asyncio

    return await asyncio.to_thread(run_cli, *args, env=env, cwd=cwd)
