"""SIP calls through the real server: PJSIP test phones and SIPp as callers, agents and callees."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from agent.phrases import phrases_for
from tests.conftest import ROOT, ServerProcess, start_server
from tests.e2e.sip_rig import PhoneCall, silent_from, sip_uri, speech_wav, tone_pcm
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall
from tests.fakes.sip_phone import SipPhone
from tests.fakes.sipp import run_sipp, write_mulaw_wav

pytestmark = pytest.mark.slow

SIP_LINE = "+15555550310"
SHORT_LINE = "+15555550311"  # the assistant hangs up after 5 s
UNAVAILABLE_LINE = "+15555550312"  # its assistant's speech model is missing
CALLED = "+12125550142"  # the lead the campaign calls, through the trunk (a test phone)
VOICEMAIL = "Sorry we missed you. We will call back."
LONG_REPLY = (
    "We are open from nine in the morning until six in the evening on weekdays, "
    "and on Saturdays from ten until two. We are closed on Sundays and on public holidays, "
    "but you can always leave a message and we will call you back."
)


def sip_assistant(agent: str, busy: str) -> dict:
    """The assistant of the SIP line: two transfer targets, a voicemail message."""
    destinations = [
        {"type": "sip", "sipUri": busy, "description": "sales", "message": "Connecting you."},
        {"type": "sip", "sipUri": agent, "description": "support", "message": "Connecting you."},
    ]
    return {
        "name": "sip-test",
        "firstMessage": "Hello, this is the SIP line.",
        "model": {
            "messages": [{"role": "system", "content": "You are a test assistant."}],
            "maxTokens": 80,
            "tools": [{"type": "transferCall", "destinations": destinations}],
        },
        "voicemailMessage": VOICEMAIL,
        "silenceTimeoutSeconds": 60,
        "phoneNumbers": [SIP_LINE],
    }


@pytest.fixture(scope="module")
async def phones() -> AsyncIterator[dict[str, SipPhone]]:
    """A caller, an agent's desk phone that answers, a busy one, and a callee behind the trunk."""
    started = await asyncio.gather(
        SipPhone(user="caller").start(),
        SipPhone(answer=200, user="agent").start(),
        SipPhone(answer=486, user="busy").start(),
        SipPhone(answer=200, user="callee").start(),
    )
    yield dict(zip(("caller", "agent", "busy", "callee"), started, strict=True))
    await asyncio.gather(*(phone.stop() for phone in started))


@pytest.fixture(scope="module")
async def sip_server(
    fake_llm: FakeOpenAI, phones: dict[str, SipPhone], tmp_path_factory
) -> AsyncIterator[ServerProcess]:
    """The real server with SIP on a free port, its trunk pointing at the callee phone."""
    tmp = tmp_path_factory.mktemp("sip-server")
    assistants = tmp / "assistants"
    assistants.mkdir()
    (assistants / "default.json").write_text((ROOT / "assistants" / "default.json").read_text())
    test_assistant = sip_assistant(phones["agent"].uri, phones["busy"].uri)
    (assistants / "sip-test.json").write_text(json.dumps(test_assistant))
    short = {"name": "sip-short", "firstMessage": "Hello.", "maxDurationSeconds": 5}
    (assistants / "sip-short.json").write_text(json.dumps({**short, "phoneNumbers": [SHORT_LINE]}))
    missing = {"name": "sip-missing", "transcriber": {"model": "no-such-whisper-model"}}
    (assistants / "sip-missing.json").write_text(
        json.dumps({**missing, "phoneNumbers": [UNAVAILABLE_LINE]})
    )
    server = await start_server(
        tmp,
        DATABASE_URL=f"sqlite:///{tmp / 'calls.db'}",
        LLM_BASE_URL=fake_llm.url,
        LLM_API_KEY="test",
        LLM_MODEL="fake-model",
        ASSISTANTS_DIR=str(assistants),
        SIP_TRUNK_HOST=f"127.0.0.1:{phones['callee'].port}",
        SIP_FROM_NUMBER="+15555550000",
        DIALER_TICK_SECS="0.3",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> dict[str, Path]:
    """The caller's lines, spoken by espeak-ng."""
    folder = tmp_path_factory.mktemp("sip-lines")
    return {
        "hours": speech_wav(folder, "hours", "Do you have anything in the morning?"),
        "tuesday": speech_wav(
            folder, "tuesday", "I would like to book an appointment for next Tuesday."
        ),
        "agent": speech_wav(folder, "agent", "Can I talk to a person please?"),
    }


async def latest_call(server: ServerProcess, **query: str) -> dict:
    """The newest call (matching ``query``), once the server finalized it."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    _, page = await server.get_json(f"/api/calls?limit=1&{params}")
    return await server.call(page["data"][0]["id"])


async def said_by_bot(server: ServerProcess, text: str, timeout: float = 40) -> None:
    """Wait until the live call's transcript has the bot's line ``text`` (heard whole)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, page = await server.get_json("/api/calls?limit=1")
        body = await server.call(page["data"][0]["id"], ended=False)
        if any(line["role"] == "assistant" and line["text"] == text for line in body["transcript"]):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the bot never said {text!r}")


@pytest.mark.flaky(reruns=2)
async def test_a_caller_holds_a_conversation_barges_in_and_keys_digits(
    sip_server: ServerProcess, phones: dict[str, SipPhone], lines, llm: FakeOpenAI, tmp_path
):
    llm.script += [Reply(LONG_REPLY), Reply("Yes, from ten until two."), Reply("Got it.")]
    caller = phones["caller"]
    call = await PhoneCall.dial(caller, await sip_uri(sip_server, SIP_LINE))
    await call.heard_bot_finish()  # the greeting
    await call.say(lines["hours"])
    await call.heard_bot_start()  # the long reply...
    await asyncio.sleep(1.5)
    spoke_at = await call.say(lines["tuesday"])  # ...which the caller talks over
    await call.heard_bot_finish(timeout=40)  # the answer to the second question
    seen = len(llm.requests)
    await caller.send("dtmf", call=call.index, digits="12")  # RFC 4733, ~0.2 s a digit
    await asyncio.sleep(1.0)  # INFO would overtake the digits still being played as RTP
    await caller.send("dtmf", call=call.index, digits="3#", method="info")  # SIP INFO
    await call.heard_bot_finish()
    heard = await call.heard(tmp_path)
    await call.hang_up()

    body = await latest_call(sip_server)
    assert body["provider"] == "sip" and body["direction"] == "inbound"
    assert body["assistant"] == "sip-test" and body["endReason"] == "caller-hangup"
    said = " ".join(line["text"].lower() for line in body["transcript"] if line["role"] == "user")
    # tiny.en sometimes hears the resumed "Tuesday" (after a short pause) as "two days"
    assert "morning" in said and ("tuesday" in said or "two days" in said), body["transcript"]
    cut = [
        line for line in body["transcript"] if line["role"] == "assistant" and line["interrupted"]
    ]
    assert cut and cut[0]["text"] != LONG_REPLY, "the long reply was cut where the caller came in"
    assert body["latency"]["voice_to_voice_p50_ms"], body["latency"]
    stopped = silent_from(heard, spoke_at)
    assert stopped is not None, "the bot's audio stopped while the caller talked over it"
    print(f"\nbarge-in: the bot went silent at the caller's ear {(stopped - spoke_at) * 20} ms "
          "after the caller started speaking")  # fmt: skip
    keyed = [m for r in llm.requests[seen:] for m in r["messages"] if m.get("role") == "user"]
    assert any("DTMF: 123" in str(m.get("content")) for m in keyed), keyed


@pytest.mark.flaky(reruns=2)
async def test_a_refused_refer_falls_back_to_the_assistant_and_a_second_one_reaches_the_agent(
    sip_server: ServerProcess, phones: dict[str, SipPhone], lines, llm: FakeOpenAI
):
    def transfer(destination: str) -> Reply:
        arguments = {"reason": "asked", "summary": "wants a person", "destination": destination}
        return Reply("", tool_calls=[ToolCall("transfer_to_human", arguments)])

    llm.script += [transfer("sales"), transfer("support")]
    agent = phones["agent"]
    agent_seen = len(agent.events)
    call = await PhoneCall.dial(phones["caller"], await sip_uri(sip_server, SIP_LINE))
    await call.heard_bot_finish()
    await call.say(lines["agent"])  # → REFER to the busy phone: 486, we say so
    await said_by_bot(sip_server, phrases_for("en").transfer_failed)
    await call.say(lines["agent"])  # → REFER to the agent, who answers
    incoming = await agent.wait_for("incoming", after=agent_seen, timeout=40)
    await agent.wait_for("state", after=agent_seen, state="CONFIRMED")
    await agent.send("hangup", call=incoming["call"])

    body = await latest_call(sip_server)
    assert "caller@" in incoming["remote"], "the caller's own phone called the agent"
    assert body["endReason"] == "transferred" and body["transferTarget"] == agent.uri, body
    said = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert phrases_for("en").transfer_failed in said, said
    results = [t["ok"] for t in body["toolCalls"] if t["name"] == "transfer_to_human"]
    assert results == [False, True], body["toolCalls"]


async def test_a_taken_sip_port_stops_the_start_with_a_message_that_says_what_to_set(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="exited with 2") as failed:
            await start_server(tmp_path, SIP_PORT=str(port))
    assert f"Cannot start: SIP cannot listen on 127.0.0.1:{port}" in str(failed.value)
    assert "SIP_PORT" in str(failed.value) and "Traceback" not in str(failed.value)


async def campaign_call(server: ServerProcess, name: str, phone: str) -> dict:
    """Start a one-contact campaign over SIP; returns the contact once its attempt settled."""
    spec = {
        "name": name,
        "assistant": "sip-test",
        "provider": "sip",
        "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        "limits": {"maxAttempts": 2, "retryMinutes": {"voicemail": 600}},
    }
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.api_key}"}) as http:
        async with http.post(server.url + "/api/campaigns", json=spec) as response:
            campaign = (await response.json())["id"]
        await http.post(
            f"{server.url}/api/campaigns/{campaign}/contacts",
            data=f"phone\n{phone}\n",
            headers={"Content-Type": "text/csv"},
        )
        await http.post(f"{server.url}/api/campaigns/{campaign}/start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with http.get(f"{server.url}/api/campaigns/{campaign}/contacts") as response:
                contact = (await response.json())["data"][0]
            if contact["lastOutcome"]:
                return contact
            await asyncio.sleep(0.3)
    raise TimeoutError(f"campaign {name}: the call never settled: {contact}")


async def test_a_campaign_call_through_the_trunk_is_answered_held_and_settled(
    sip_server: ServerProcess, phones: dict[str, SipPhone]
):
    callee = phones["callee"]
    seen = len(callee.events)
    settled = asyncio.create_task(campaign_call(sip_server, "sip-human", CALLED))
    incoming = await callee.wait_for("incoming", after=seen, timeout=30)
    call = PhoneCall(callee, incoming["call"], seen)
    await call.heard_bot_finish()  # the assistant's greeting
    _, health = await sip_server.get_json("/healthz")
    await call.hang_up()
    contact = await settled

    assert f"sip:{CALLED}@" in incoming["local"] and "+15555550000@" in incoming["remote"]
    assert health["liveCalls"] == 1 and health["sip"]["calls"] == 1
    assert contact["status"] == "completed", contact
    body = await sip_server.call(contact["lastCallId"])
    assert body["provider"] == "sip" and body["direction"] == "outbound"
    assert body["endReason"] == "caller-hangup" and body["status"] == "completed"
    assert body["transcript"][0]["text"] == "Hello, this is the SIP line."


async def test_an_answering_machine_gets_the_voicemail_message_after_its_beep(
    sip_server: ServerProcess, phones: dict[str, SipPhone], tmp_path
):
    greeting = speech_wav(
        tmp_path,
        "machine",
        "You have reached Dana. Please leave a message after the tone.",
        after=bytes(2400 * 2) + tone_pcm(1000, 0.5),  # a pause, then the beep
    )
    callee = phones["callee"]
    await callee.send("greeting", path=str(greeting))
    try:
        contact = await campaign_call(sip_server, "sip-machine", "+12125550143")
    finally:
        await callee.send("greeting", path="")

    body = await sip_server.call(contact["lastCallId"])
    assert contact["lastOutcome"] == "voicemail" and contact["status"] == "pending", contact
    assert body["answeredBy"] == "machine_end_beep" and body["endReason"] == "voicemail", body
    last = [line for line in body["transcript"] if line["role"] == "assistant"][-1]
    assert last["text"] == VOICEMAIL and not last["interrupted"], body["transcript"]


def tone_wav(folder: Path) -> Path:
    """A 700 Hz tone as the mu-law WAV SIPp streams."""
    return write_mulaw_wav(folder / "tone.wav", np.frombuffer(tone_pcm(700, 3), "<i2"))


async def calls_stored(server: ServerProcess) -> int:
    _, page = await server.get_json("/api/calls?limit=1")
    return page["total"]


async def stored(server: ServerProcess, count: int, timeout: float = 10) -> None:
    """Wait until the server has stored ``count`` calls."""
    deadline = time.monotonic() + timeout
    while await calls_stored(server) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


@pytest.mark.flaky(reruns=2)
async def test_sipp_cancel_bye_both_ways_malformed_and_codec_less_invites(
    sip_server: ServerProcess, tmp_path
):
    address = (await sip_uri(sip_server, "x")).split("@")[1].split(":")
    target = (address[0], int(address[1]))
    before = await calls_stored(sip_server)
    refused = await asyncio.gather(
        run_sipp("uac_no_codec", target, tmp_path, service=SIP_LINE),
        run_sipp("uac_bad_sdp", target, tmp_path, values={"CODE": "400"}),
        run_sipp("uac_no_contact", target, tmp_path),
    )
    assert all(run.ok for run in refused), [run.errors for run in refused]  # 488, 400, 400
    assert await calls_stored(sip_server) == before, "nothing was created"

    unavailable = await run_sipp(
        "uac_refused", target, tmp_path, service=UNAVAILABLE_LINE, values={"CODE": "480"}
    )
    assert unavailable.ok, unavailable.errors
    assert "SIP/2.0 480 Assistant Unavailable" in unavailable.messages
    await stored(sip_server, before + 1)
    body = await latest_call(sip_server)
    assert body["assistant"] == "sip-missing" and body["endReason"] == "assistant-unavailable"

    cancelled = await run_sipp(
        "uac_cancel", target, tmp_path, service=SIP_LINE, values={"RING_MS": "0"}
    )
    assert cancelled.ok, cancelled.errors  # 180, then 200 to the CANCEL and 487
    await stored(sip_server, before + 2)  # (SIPp is done before our row is written)
    body = await latest_call(sip_server)
    assert body["status"] == "canceled" and body["endReason"] == "caller-hangup", body

    ours, theirs = await asyncio.gather(
        run_sipp("uac_wait_bye", target, tmp_path, service=SHORT_LINE, transport="t1"),
        run_sipp(
            "uac_tone",
            target,
            tmp_path,
            service=SIP_LINE,
            values={"TONE_WAV": str(tone_wav(tmp_path)), "HOLD_MS": "2000"},
        ),
    )
    assert ours.ok and theirs.ok, ours.errors + theirs.errors  # our BYE; their BYE, our 200
    _, page = await sip_server.get_json("/api/calls?limit=2")
    ended = {c["assistant"]: await sip_server.call(c["id"]) for c in page["data"]}
    assert ended["sip-short"]["endReason"] == "max-duration", ended["sip-short"]
    assert ended["sip-test"]["endReason"] == "caller-hangup", ended["sip-test"]


async def test_twenty_calls_at_once_fill_the_call_slots_and_the_rest_get_503_retry_after(
    sip_server: ServerProcess, tmp_path
):
    _, health = await sip_server.get_json("/healthz")
    capacity, refused_before = health["sip"]["capacity"], health["sip"]["refusedFull"]
    address = health["sip"]["address"].split(":")
    before = await calls_stored(sip_server)
    run = await run_sipp(
        "uac_tone",
        (address[0], int(address[1])),
        tmp_path,
        calls=20,
        rate=20,
        service=SIP_LINE,
        timeout=60,
        values={"TONE_WAV": str(tone_wav(tmp_path)), "HOLD_MS": "3000"},
    )
    _, health = await sip_server.get_json("/healthz")

    assert run.ok, run.errors  # every call answered and hung up, or refused with 503
    refused = run.messages.count("SIP/2.0 503 Call Limit Reached")
    assert refused == 20 - capacity and run.messages.count("Retry-After: 10") == refused
    assert health["sip"]["refusedFull"] - refused_before == refused
    assert await calls_stored(sip_server) - before == capacity, "refused INVITEs create nothing"
    _, page = await sip_server.get_json(f"/api/calls?limit={capacity}")
    ended = [await sip_server.call(c["id"]) for c in page["data"]]
    assert all(c["endReason"] == "caller-hangup" for c in ended), ended
