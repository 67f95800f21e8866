"""SIP through the real server with PJSIP test phones and SIPp (baresip: test_sip_baresip)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, ServerProcess, start_scripted_server, start_server
from tests.e2e.sip_rig import (
    PhoneCall,
    campaign_call,
    latest_call,
    llm_got,
    sip_uri,
    speech_wav,
    tone_pcm,
)
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.sip_phone import SipPhone
from tests.fakes.sipp import run_sipp, write_mulaw_wav

pytestmark = pytest.mark.slow

SIP_LINE = "+15555550310"
SHORT_LINE = "+15555550311"  # the assistant hangs up after 5 s
UNAVAILABLE_LINE = "+15555550312"  # its assistant's speech model is missing
HOLD_LINE = "+15555550313"  # the SIP line's assistant with a silence timeout of 8 s
CALLED = "+12125550142"  # the lead the campaign calls: an answering machine behind the trunk
VOICEMAIL = "Sorry we missed you. We will call back."


def sip_assistant() -> dict:
    """The assistant of the SIP line, with a voicemail message."""
    return {
        "name": "sip-test",
        "firstMessage": "Hello, this is the SIP line.",
        "model": {
            "messages": [{"role": "system", "content": "You are a test assistant."}],
            "maxTokens": 80,
        },
        "voicemailMessage": VOICEMAIL,
        "silenceTimeoutSeconds": 60,
        "phoneNumbers": [SIP_LINE],
    }


@pytest.fixture(scope="module")
async def phones() -> AsyncIterator[dict[str, SipPhone]]:
    """A caller (SIP INFO digits), and a callee behind the trunk (an answering machine)."""
    started = await asyncio.gather(
        SipPhone(user="caller").start(), SipPhone(answer=200, user="callee").start()
    )
    yield dict(zip(("caller", "callee"), started, strict=True))
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
    (assistants / "sip-test.json").write_text(json.dumps(sip_assistant()))
    hold = {**sip_assistant(), "name": "sip-hold", "silenceTimeoutSeconds": 8}
    (assistants / "sip-hold.json").write_text(json.dumps({**hold, "phoneNumbers": [HOLD_LINE]}))
    short = {"name": "sip-short", "firstMessage": "Hello.", "maxDurationSeconds": 5}
    (assistants / "sip-short.json").write_text(json.dumps({**short, "phoneNumbers": [SHORT_LINE]}))
    missing = {"name": "sip-missing", "transcriber": {"model": "no-such-whisper-model"}}
    (assistants / "sip-missing.json").write_text(
        json.dumps({**missing, "phoneNumbers": [UNAVAILABLE_LINE]})
    )
    server = await start_scripted_server(
        tmp,
        fake_llm,
        ASSISTANTS_DIR=str(assistants),
        SIP_TRUNK_HOST=f"127.0.0.1:{phones['callee'].port}",
        SIP_FROM_NUMBER="+15555550000",
        DIALER_TICK_SECS="0.3",
    )
    yield server
    server.stop()


async def test_digits_keyed_by_rfc_4733_and_by_sip_info_reach_the_llm_as_one_entry(
    sip_server: ServerProcess, phones: dict[str, SipPhone], llm: FakeOpenAI
):
    llm.script += [Reply("Got it.")]
    caller = phones["caller"]
    call = await PhoneCall.dial(caller, await sip_uri(sip_server, SIP_LINE))
    await call.heard_bot_finish()  # the greeting
    seen = len(llm.requests)
    await caller.send("dtmf", call=call.index, digits="12")  # RFC 4733, ~0.2 s a digit
    await asyncio.sleep(1.0)  # INFO would overtake the digits still being played as RTP
    await caller.send("dtmf", call=call.index, digits="3#", method="info")  # SIP INFO
    await llm_got(llm, "DTMF: 123", seen)
    await call.hang_up()

    body = await latest_call(sip_server)
    assert body["provider"] == "sip" and body["endReason"] == "caller-hangup", body


async def test_a_caller_who_puts_the_bot_on_hold_is_not_answered_until_back(
    sip_server: ServerProcess, phones: dict[str, SipPhone], llm: FakeOpenAI, tmp_path
):
    """A PBX's hold (re-INVITE sendonly) plays its own announcement: not the caller's words.

    Nor is the silence of a hold theirs: 10 s of it, past the line's 8 s silence timeout
    (a prompt at 4 s, goodbye at 8 s), neither prompts nor hangs up.
    """
    answer = "No problem, take your time."
    llm.script += [Reply(answer)]
    caller = phones["caller"]
    call = await PhoneCall.dial(caller, await sip_uri(sip_server, HOLD_LINE))
    await call.heard_bot_finish()  # the greeting
    seen, events = len(llm.requests), len(caller.events)
    await caller.send("hold", call=call.index)
    await caller.wait_for("media", after=events, call=call.index)
    await asyncio.sleep(0.5)  # as a PBX's music starts: after the re-INVITE, not with it
    announcement = "Please hold, your call is very important to us."
    await call.say(speech_wav(tmp_path, "announcement", announcement))
    await asyncio.sleep(10.0)
    assert len(llm.requests) == seen, "the hold's announcement reached the LLM"
    events = len(caller.events)
    await caller.send("unhold", call=call.index)
    await caller.wait_for("media", after=events, call=call.index)
    answered = await call.turn(speech_wav(tmp_path, "back", "Sorry about that, I am back now."))
    assert answered is not None, "back off hold, the caller is answered"
    await call.hang_up()

    body = await latest_call(sip_server)
    lines = body["transcript"]
    said = [line["text"].lower() for line in lines if line["role"] == "user"]
    assert said and not any("important" in line or "hold" in line for line in said), said
    spoken = [line["text"] for line in lines if line["role"] == "assistant"]
    assert spoken == ["Hello, this is the SIP line.", answer], "no prompt into the hold"
    assert body["endReason"] == "caller-hangup", body


async def test_a_taken_sip_port_stops_the_start_with_a_message_that_says_what_to_set(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="exited with 2") as failed:
            await start_server(tmp_path, SIP_PORT=str(port))
    assert f"Cannot start: SIP cannot listen on 127.0.0.1:{port}" in str(failed.value)
    assert "SIP_PORT" in str(failed.value) and "Traceback" not in str(failed.value)


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
        contact = await campaign_call(sip_server, "sip-machine", CALLED, "sip-test")
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
