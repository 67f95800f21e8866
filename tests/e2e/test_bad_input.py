"""Forged webhooks and broken media streams: refused or survived, and other calls go on."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import pytest

from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import TWILIO_AUTH_TOKEN, ServerProcess
from tests.e2e.test_call import LINE, simulator
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.slow

VOICE_FORM = {
    "CallSid": "CAforged000000000000000000000000",
    "AccountSid": "AC" + "0" * 32,
    "From": "+15555550100",
    "To": "+15555550199",
    "CallStatus": "ringing",
    "Direction": "inbound",
}


async def _call_count(server: ServerProcess) -> int:
    status, body = await server.get_json("/api/calls?limit=1")
    assert status == 200
    return body["total"]


@pytest.mark.parametrize("signature", [None, "forged-signature", "wrong-token"])
async def test_unsigned_or_forged_webhooks_get_403_and_change_nothing(
    server: ServerProcess, signature
):
    before = await _call_count(server)
    headers = {}
    if signature == "forged-signature":
        headers["X-Twilio-Signature"] = "bm90IGEgcmVhbCBzaWduYXR1cmU="
    elif signature == "wrong-token":
        headers["X-Twilio-Signature"] = CallSimulator(
            server.url, auth_token="not-the-token"
        ).signature(server.url + "/twilio/voice", VOICE_FORM)
    async with aiohttp.ClientSession() as http:
        for path in ("/twilio/voice", "/twilio/status"):
            async with http.post(server.url + path, data=VOICE_FORM, headers=headers) as response:
                assert response.status == 403, path
    assert await _call_count(server) == before


async def test_status_callback_updates_the_call(server: ServerProcess, llm: FakeOpenAI):
    async with simulator(server) as call:
        await call.wait_for_bot()
    form = {"CallSid": call.call_sid, "CallStatus": "completed", "CallDuration": "7"}
    response = await _signed_post(server, "/twilio/status", form)
    assert response == 204
    body = await server.call(call.call_id)
    assert body["status"] == "completed"


async def _signed_post(server: ServerProcess, path: str, form: dict[str, str]) -> int:
    signer = CallSimulator(server.url, auth_token=TWILIO_AUTH_TOKEN)
    headers = {"X-Twilio-Signature": signer.signature(server.url + path, form)}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + path, data=form, headers=headers) as response:
            return response.status


async def test_garbage_mid_call_is_logged_and_the_call_goes_on(
    server: ServerProcess, llm: FakeOpenAI
):
    async with simulator(server) as call:
        await call.wait_for_bot()
        ws = call._ws
        await ws.send_str("{this is not json")
        await ws.send_str(json.dumps([1, 2, 3]))
        await ws.send_bytes(b"\x00\x01binary")
        await ws.send_str(json.dumps({"event": "media", "media": {"payload": "***not base64***"}}))
        await ws.send_str(json.dumps({"event": "media", "media": {}}))
        await ws.send_str(json.dumps({"event": "no-such-event", "x": 1}))
        await ws.send_str(json.dumps({"event": "mark", "mark": {"name": "never-sent"}}))
        turn = await call.say(speech_ulaw(LINE), LINE)
    assert turn.voice_to_voice_ms is not None, "the call still answers after garbage"
    body = await server.call(call.call_id)
    assert body["endReason"] == "caller-hangup"
    logs = server.logs()
    assert "malformed message" in logs and "binary frame" in logs


async def test_media_before_start_is_ignored(server: ServerProcess, llm: FakeOpenAI):
    silence = base64.b64encode(b"\xff" * 160).decode()
    call = simulator(server)
    # Ring the server and read the TwiML ourselves, so we can misbehave on the socket.
    call._http = aiohttp.ClientSession()
    try:
        async with await call.post_webhook(
            "/twilio/voice", {**VOICE_FORM, "CallSid": call.call_sid}
        ) as r:
            stream_url, params = CallSimulator._parse_twiml(await r.text())
        async with call._http.ws_connect(stream_url) as ws:
            await ws.send_str(json.dumps({"event": "media", "media": {"payload": silence}}))
            await ws.send_str(json.dumps({"event": "connected"}))
            await ws.send_str(
                json.dumps(
                    {
                        "event": "start",
                        "streamSid": "MZx",
                        "start": {
                            "streamSid": "MZx",
                            "callSid": call.call_sid,
                            "customParameters": params,
                        },
                    }
                )
            )
            got_audio = False
            async with asyncio.timeout(20):
                async for message in ws:
                    if json.loads(message.data).get("event") == "media":
                        got_audio = True
                        break
            await ws.send_str(json.dumps({"event": "stop"}))
        assert got_audio, "the greeting plays once the stream starts"
    finally:
        await call._http.close()


async def test_stream_with_a_bad_token_is_refused(server: ServerProcess):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(server.url.replace("http", "ws") + "/twilio/stream") as ws:
            await ws.send_str(json.dumps({"event": "connected"}))
            start = {"streamSid": "MZx", "customParameters": {"callId": "nope", "token": "bad"}}
            await ws.send_str(json.dumps({"event": "start", "start": start}))
            message = await ws.receive(timeout=10)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1008


async def test_huge_message_closes_that_call_cleanly_and_others_go_on(
    server: ServerProcess, llm: FakeOpenAI
):
    async with simulator(server) as other, simulator(server) as victim:
        await asyncio.gather(other.wait_for_bot(), victim.wait_for_bot())
        await victim._ws.send_str(
            json.dumps({"event": "media", "media": {"payload": "A" * 1_000_000}})
        )
        await asyncio.wait_for(victim.closed_by_server.wait(), timeout=10)
        turn = await other.say(speech_ulaw(LINE), LINE)
        assert turn.voice_to_voice_ms is not None, "the other call is untouched"
    body = await server.call(victim.call_id)
    assert body["endedAt"] is not None and body["endReason"] == "disconnected"
