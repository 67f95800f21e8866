"""Overload is a decision: at MAX_CALLS a new call gets the configured overflow, not a bad call."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from telephony.simulator import CallSimulator
from tests.conftest import ROOT, TWILIO_AUTH_TOKEN, ServerProcess, start_server
from tests.e2e.sip_rig import sip_uri
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sip_phone import SipPhone
from tests.fakes.vapi_rest import FakeVapi

pytestmark = pytest.mark.slow

TRANSFER_NUMBER = "+15555550990"
NUMBERS = {"transfer": "+15555550301", "vapi": "+15555550302"}


def overflow_assistants(folder: Path) -> None:
    """default (the server's overflow: a callback), and one assistant per other overflow."""
    folder.mkdir()
    default = json.loads((ROOT / "assistants" / "default.json").read_text())
    (folder / "default.json").write_text(json.dumps(default))
    plans = {
        "transfer": {
            "action": "transfer",
            "destination": {"type": "number", "number": TRANSFER_NUMBER},
        },
        "vapi": {"action": "vapi"},
    }
    for name, plan in plans.items():
        data = default | {"name": f"overflow-{name}", "phoneNumbers": [NUMBERS[name]]}
        (folder / f"overflow-{name}.json").write_text(json.dumps(data | {"overflowPlan": plan}))


@pytest.fixture(scope="module")
async def vapi() -> AsyncIterator[FakeVapi]:
    fake = await FakeVapi().start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="module")
async def one_line(
    fake_llm: FakeOpenAI, vapi: FakeVapi, tmp_path_factory
) -> AsyncIterator[ServerProcess]:
    """A real server that holds one call at once (MAX_CALLS=1)."""
    tmp = tmp_path_factory.mktemp("one-line")
    overflow_assistants(tmp / "assistants")
    server = await start_server(
        tmp,
        DATABASE_URL=f"sqlite:///{tmp / 'calls.db'}",
        LLM_BASE_URL=fake_llm.url,
        LLM_API_KEY="test",
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        ASSISTANTS_DIR=str(tmp / "assistants"),
        MAX_CALLS="1",
        VAPI_API_KEY=vapi.api_key,
        VAPI_BASE_URL=vapi.url,
        VAPI_PHONE_NUMBER_ID="vapi-number-1",
    )
    yield server
    server.stop()


async def ring(server: ServerProcess, caller: str, to: str = "+15555550199") -> str:
    """A new inbound call's webhook, signed like Twilio's; returns the TwiML answer."""
    params = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    url = server.url + "/twilio/voice"
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=params, headers={"X-Twilio-Signature": signature}) as r:
            assert r.status == 200
            return await r.text()


async def call_from(server: ServerProcess, caller: str) -> dict:
    _, page = await server.get_json("/api/calls?direction=inbound&limit=200")
    [call] = [c for c in page["data"] if c["from"] == caller]
    return call


async def health(server: ServerProcess) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/healthz") as response:
            return await response.json()


async def test_a_second_call_at_capacity_hears_the_lines_are_busy_and_gets_a_callback(
    one_line: ServerProcess, llm: FakeOpenAI
):
    async with CallSimulator(one_line.url, auth_token=TWILIO_AUTH_TOKEN) as first:
        await first.wait_for_bot()
        assert (await health(one_line))["liveCalls"] == 1

        twiml = ET.fromstring(await ring(one_line, "+15555550111"))
        verbs = [verb.tag for verb in twiml]
        assert verbs == ["Say", "Hangup"], f"no stream for a call with no line: {verbs}"
        assert "lines are busy" in twiml[0].text and "call you back" in twiml[0].text

        overflowed = await call_from(one_line, "+15555550111")
        assert (overflowed["status"], overflowed["endReason"]) == ("completed", "overflow-callback")
        assert overflowed["endedAt"] is not None
        _, callbacks = await one_line.get_json(
            f"/api/callbacks?lead_id={overflowed['leadId']}&status=open"
        )
        [task] = callbacks["data"]
        assert (task["kind"], task["callId"], task["createdBy"]) == (
            "callback",
            overflowed["id"],
            "overflow",
        )

        await ring(one_line, "+15555550111")  # the same caller tries again: one callback
        _, callbacks = await one_line.get_json(f"/api/callbacks?lead_id={overflowed['leadId']}")
        assert callbacks["total"] == 1
        assert (await health(one_line))["capacity"]["overflowed"] >= 2

    # The first caller hung up: the line is free at once, whatever finalizing is left.
    deadline = time.monotonic() + 3
    while (await health(one_line))["liveCalls"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert (await health(one_line))["liveCalls"] == 0
    async with CallSimulator(
        one_line.url, auth_token=TWILIO_AUTH_TOKEN, from_number="+15555550112"
    ) as third:
        assert await third.wait_for_bot() > 0, "a free line: the next call streams"


async def test_at_capacity_calls_go_to_the_overflow_number_or_to_vapi(
    one_line: ServerProcess, vapi: FakeVapi, llm: FakeOpenAI
):
    async with CallSimulator(one_line.url, auth_token=TWILIO_AUTH_TOKEN) as first:
        await first.wait_for_bot()
        transferred = ET.fromstring(await ring(one_line, "+15555550121", NUMBERS["transfer"]))
        [dial] = [verb for verb in transferred if verb.tag == "Dial"]
        assert dial.text == TRANSFER_NUMBER
        row = await call_from(one_line, "+15555550121")
        assert (row["endReason"], row["transferTarget"]) == ("overflow-transfer", TRANSFER_NUMBER)

        handed = ET.fromstring(await ring(one_line, "+15555550122", NUMBERS["vapi"]))
        [stream] = handed.iter("Stream")
        assert stream.get("url").startswith("wss://phone-call-websocket.vapi.invalid/")
        [created] = [r.body for r in vapi.requests if r.path == "/call"]
        assert created["phoneCallProviderBypassEnabled"] is True
        assert created["customer"]["number"] == "+15555550122"
        assert created["phoneNumberId"] == "vapi-number-1"
        assert created["metadata"]["phoneagentAssistant"] == "overflow-vapi"
        assert "assistant" in created or "assistantId" in created
        row = await call_from(one_line, "+15555550122")
        assert row["endReason"] == "overflow-vapi"


async def test_talk_at_capacity_gets_a_busy_answer(one_line: ServerProcess, llm: FakeOpenAI):
    url = one_line.url.replace("http", "ws", 1) + "/api/assistants/default/talk"
    key = {"Authorization": f"Bearer {one_line.api_key}"}
    async with CallSimulator(one_line.url, auth_token=TWILIO_AUTH_TOKEN) as first:
        await first.wait_for_bot()
        async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=key) as ws:
            message = await ws.receive_json()
            assert (message["type"], message["error"]) == ("error", "all_lines_busy")
            assert "busy" in message["detail"]
            closing = await ws.receive()
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1013


async def test_a_sip_call_at_capacity_gets_503_with_retry_after(
    one_line: ServerProcess, llm: FakeOpenAI
):
    phone = await SipPhone(user="sip-caller").start()
    try:
        async with CallSimulator(one_line.url, auth_token=TWILIO_AUTH_TOKEN) as first:
            await first.wait_for_bot()
            seen = len(phone.events)
            await phone.send("call", uri=await sip_uri(one_line, "+15555550199"))
            ended = await phone.wait_for("state", after=seen, state="DISCONNECTED", timeout=20)
    finally:
        await phone.stop()
    assert ended["code"] == 503, ended
    _, page = await one_line.get_json("/api/calls?limit=1")
    refused = await one_line.call(page["data"][0]["id"])  # once ended
    assert (refused["provider"], refused["status"], refused["endReason"]) == (
        "sip",
        "busy",
        "overflow-busy",
    )
