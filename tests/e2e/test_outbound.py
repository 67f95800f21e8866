"""A campaign end to end: the real server dials through a fake Twilio, and the call streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from telephony.simulator import CallSimulator
from tests.conftest import ROOT, start_server
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_rest import FakeTwilio

pytestmark = pytest.mark.slow


async def test_campaign_call_is_dialled_answered_and_settled(tmp_path: Path, llm: FakeOpenAI):
    heard: list[float] = []
    twilio = FakeTwilio()
    server = None

    async def answer(call, twiml: str) -> None:
        simulator = CallSimulator(
            server.url, auth_token=twilio.auth_token, direction="outbound-api"
        )
        await simulator.connect(twiml)
        try:
            heard.append(await simulator.wait_for_bot(timeout=30))
        finally:
            await simulator.hang_up()

    twilio.on_answer = answer
    await twilio.start()
    try:
        server = await start_server(
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
            LLM_BASE_URL=llm.url,
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_API_BASE_URL=twilio.url,
            TWILIO_FROM_NUMBER="+15555550000",
            DIALER_TICK_SECS="0.3",
            ASSISTANTS_DIR=str(ROOT / "assistants"),
        )
        headers = {"Authorization": f"Bearer {server.api_key}"}
        spec = {
            "name": "e2e",
            "assistant": "default",
            "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        }
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(server.url + "/api/campaigns", json=spec) as response:
                campaign = await response.json()
            csv = "phone,name\n+12125550199,Dana\n"
            async with http.post(
                f"{server.url}/api/campaigns/{campaign['id']}/contacts",
                data=csv,
                headers={"Content-Type": "text/csv"},
            ) as response:
                assert response.status == 200
            async with http.post(f"{server.url}/api/campaigns/{campaign['id']}/start") as response:
                assert response.status == 200
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with http.get(
                    f"{server.url}/api/campaigns/{campaign['id']}/progress"
                ) as response:
                    progress = await response.json()
                if progress["contacts"]["completed"] == 1:
                    break
                await asyncio.sleep(0.5)
        assert progress["contacts"]["completed"] == 1 and progress["answered"] == 1, progress
        assert heard and heard[0] > 1.0, "the callee heard the assistant"
        placed = twilio.calls[0]
        assert placed.to == "+12125550199" and placed.from_ == "+15555550000"
        assert placed.params["MachineDetection"] == ["DetectMessageEnd"] and placed.params[
            "AsyncAmd"
        ] == ["true"]
        call_id = placed.params["StatusCallback"][0].split("callId=")[1]
        body = await server.call(call_id)
        assert body["direction"] == "outbound" and body["campaignId"] == campaign["id"]
        assert body["transcript"][0]["role"] == "assistant"
    finally:
        if server:
            server.stop()
        await twilio.stop()


async def test_answering_machine_gets_the_voicemail_message(tmp_path: Path, llm: FakeOpenAI):
    message = "Hi, this is the clinic calling about your appointment. Please call us back. Goodbye."
    assistants = tmp_path / "assistants"
    assistants.mkdir()
    (assistants / "default.json").write_text(
        '{"name": "default", "firstMessage": "Hello, this is the clinic calling.", '
        f'"voicemailMessage": "{message}"}}'
    )
    twilio = FakeTwilio(scenarios={"+12125550198": "machine"})
    server = None

    async def answer(call, twiml: str) -> None:  # the machine plays its greeting and records
        simulator = CallSimulator(
            server.url, auth_token=twilio.auth_token, direction="outbound-api"
        )
        await simulator.connect(twiml)
        await asyncio.wait_for(simulator.closed_by_server.wait(), timeout=40)
        await simulator.hang_up()

    twilio.on_answer = answer
    await twilio.start()
    try:
        server = await start_server(
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
            LLM_BASE_URL=llm.url,
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_API_BASE_URL=twilio.url,
            TWILIO_FROM_NUMBER="+15555550000",
            DIALER_TICK_SECS="0.3",
            ASSISTANTS_DIR=str(assistants),
        )
        spec = {
            "name": "vm",
            "assistant": "default",
            "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
            "limits": {"maxAttempts": 2, "retryMinutes": {"voicemail": 600}},
        }
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {server.api_key}"}
        ) as http:
            async with http.post(server.url + "/api/campaigns", json=spec) as response:
                cid = (await response.json())["id"]
            await http.post(
                f"{server.url}/api/campaigns/{cid}/contacts",
                data="phone\n+12125550198\n",
                headers={"Content-Type": "text/csv"},
            )
            await http.post(f"{server.url}/api/campaigns/{cid}/start")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with http.get(f"{server.url}/api/campaigns/{cid}/contacts") as response:
                    contact = (await response.json())["data"][0]
                if contact["lastOutcome"] == "voicemail":
                    break
                await asyncio.sleep(0.5)
        assert contact["lastOutcome"] == "voicemail" and contact["status"] == "pending", contact
        body = await server.call(contact["lastCallId"])
        assert body["endReason"] == "voicemail"
        assert any(
            line["role"] == "assistant" and line["text"] == message for line in body["transcript"]
        ), body["transcript"]
    finally:
        if server:
            server.stop()
        await twilio.stop()
