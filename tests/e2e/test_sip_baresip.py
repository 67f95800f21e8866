"""SIP calls through the real server with baresip (Debian's package) as caller, agent and callee."""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from agent.phrases import phrases_for
from tests.conftest import ROOT, ServerProcess, start_scripted_server
from tests.e2e.sip_rig import (
    LONG_REPLY,
    campaign_call,
    latest_call,
    llm_got,
    said_by_bot,
    sip_uri,
    speech_wav,
)
from tests.fakes.baresip import LOUD_RMS, Baresip, BaresipCall, levels
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.slow

DEFAULT_LINE = "+15555550320"  # claimed by no assistant: the default one answers
TRANSFER_LINE = "+15555550321"
CALLED = "+12125550152"  # the lead the campaign calls, through the trunk (a baresip)
GREETING = "Hello, this is the baresip line."


def transfer_assistant(agent: str, busy: str) -> dict:
    """An assistant with two transfer targets: a phone that refuses, one that answers."""
    destinations = [
        {"type": "sip", "sipUri": busy, "description": "sales", "message": "Connecting you."},
        {"type": "sip", "sipUri": agent, "description": "support", "message": "Connecting you."},
    ]
    return {
        "name": "baresip-test",
        "firstMessage": GREETING,
        "model": {
            "messages": [{"role": "system", "content": "You are a test assistant."}],
            "tools": [{"type": "transferCall", "destinations": destinations}],
        },
        "silenceTimeoutSeconds": 60,
        "phoneNumbers": [TRANSFER_LINE],
    }


@pytest.fixture(scope="module")
async def phones(tmp_path_factory) -> AsyncIterator[dict[str, Baresip]]:
    """A caller, an agent's phone that answers, one the test refuses, a lead behind the trunk."""
    specs = {"caller": ("caller", False), "agent": ("agent", True), "busy": ("busy", False)}
    specs["callee"] = (CALLED, True)
    started = await asyncio.gather(
        *(
            Baresip(tmp_path_factory.mktemp(f"baresip-{name}"), user, auto_answer=auto).start()
            for name, (user, auto) in specs.items()
        )
    )
    yield dict(zip(specs, started, strict=True))
    await asyncio.gather(*(phone.stop() for phone in started))


@pytest.fixture(autouse=True)
async def hang_up_after(phones: dict[str, Baresip]) -> AsyncIterator[None]:
    """No call outlives its test (a failed one's rerun starts on idle phones)."""
    yield
    await asyncio.gather(*(phone.hang_up_all() for phone in phones.values()))


@pytest.fixture(scope="module")
async def sip_server(
    fake_llm: FakeOpenAI, phones: dict[str, Baresip], tmp_path_factory
) -> AsyncIterator[ServerProcess]:
    """The real server with SIP on a free port, its trunk pointing at the callee baresip."""
    tmp = tmp_path_factory.mktemp("baresip-server")
    assistants = tmp / "assistants"
    assistants.mkdir()
    (assistants / "default.json").write_text((ROOT / "assistants" / "default.json").read_text())
    test_assistant = transfer_assistant(phones["agent"].uri, phones["busy"].uri)
    (assistants / "baresip-test.json").write_text(json.dumps(test_assistant))
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


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> dict[str, Path]:
    """The caller's lines, spoken by espeak-ng."""
    folder = tmp_path_factory.mktemp("baresip-lines")
    return {
        "hours": speech_wav(folder, "hours", "Do you have anything in the morning?"),
        "tuesday": speech_wav(
            folder, "tuesday", "I would like to book an appointment for next Tuesday."
        ),
        "agent": speech_wav(folder, "agent", "Can I talk to a person please?"),
    }


def frames_of(wav: Path) -> int:
    """A WAV's length in 20 ms frames."""
    with wave.open(str(wav)) as line:
        return line.getnframes() // (line.getframerate() // 50)


@pytest.mark.flaky(reruns=2)
async def test_a_baresip_caller_holds_a_conversation_barges_in_and_keys_digits(
    sip_server: ServerProcess, phones: dict[str, Baresip], lines, llm: FakeOpenAI
):
    llm.script += [Reply(LONG_REPLY), Reply("Yes, Tuesday works."), Reply("Got it.")]
    call = await BaresipCall.dial(phones["caller"], await sip_uri(sip_server, DEFAULT_LINE))
    await call.heard_quiet()  # the default assistant's greeting
    asked = await call.say(lines["hours"])
    await call.heard_sound(after=asked + frames_of(lines["hours"]))  # the long reply...
    await asyncio.sleep(1.5)
    talked = await call.say(lines["tuesday"])  # ...which the caller talks over
    await call.heard_quiet(after=talked + frames_of(lines["tuesday"]), timeout=40)  # answer
    seen = len(llm.requests)
    await call.send_digits("123#")  # RFC 4733
    await llm_got(llm, "DTMF: 123", seen)
    heard, onsets = levels(call.phone.heard()) > LOUD_RMS, call.sent_onsets()
    await call.hang_up()

    body = await latest_call(sip_server)
    assert body["provider"] == "sip" and body["direction"] == "inbound"
    assert body["assistant"] == "default" and body["endReason"] == "caller-hangup"
    assert body["transcript"][0]["text"].startswith("Hi"), body["transcript"]
    said = " ".join(line["text"].lower() for line in body["transcript"] if line["role"] == "user")
    # tiny.en sometimes hears the resumed "Tuesday" (after a short pause) as "two days"
    assert "morning" in said and ("tuesday" in said or "two days" in said), body["transcript"]
    cut = [
        line for line in body["transcript"] if line["role"] == "assistant" and line["interrupted"]
    ]
    assert cut and cut[0]["text"] != LONG_REPLY, "the long reply was cut where the caller came in"
    assert body["latency"]["voice_to_voice_p50_ms"], body["latency"]
    # On baresip's own recordings: where the caller's second line began (what it sent) and
    # where the bot's audio at its ear then fell silent (for half a second or more).
    spoke = next(frame for frame in onsets if frame >= talked - 5)
    assert heard[spoke - 10 : spoke].any(), "the caller came in while the bot was talking"
    stopped = next((i for i in range(spoke, len(heard) - 25) if not heard[i : i + 25].any()), None)
    assert stopped is not None and stopped < spoke + frames_of(lines["tuesday"]), (
        "the bot's audio stopped while the caller was still talking over it"
    )
    print(
        f"\nbaresip barge-in: the bot went silent at the caller's ear {(stopped - spoke) * 20} ms "
        "after the caller started speaking"
    )


@pytest.mark.flaky(reruns=2)
async def test_a_refused_refer_falls_back_and_a_second_moves_the_baresip_caller_to_an_agent(
    sip_server: ServerProcess, phones: dict[str, Baresip], lines, llm: FakeOpenAI
):
    def transfer(destination: str) -> Reply:
        arguments = {"reason": "asked", "summary": "wants a person", "destination": destination}
        return Reply("", tool_calls=[ToolCall("transfer_to_human", arguments)])

    llm.script += [transfer("sales"), transfer("support")]
    busy, agent = phones["busy"], phones["agent"]
    busy_seen, agent_seen = len(busy.events), len(agent.events)
    call = await BaresipCall.dial(phones["caller"], await sip_uri(sip_server, TRANSFER_LINE))
    await call.heard_quiet()
    await call.say(lines["agent"])  # → REFER to the busy phone, which the test refuses
    await busy.wait_for("CALL_INCOMING", after=busy_seen, timeout=40)
    await busy.command("hangup")
    await said_by_bot(sip_server, phrases_for("en").transfer_failed)
    await call.say(lines["agent"])  # → REFER to the agent, who answers
    taken = await BaresipCall.incoming(agent, agent_seen, timeout=40)
    await asyncio.sleep(1)  # the two phones talk
    await taken.hang_up()

    body = await latest_call(sip_server)
    incoming = taken.event("CALL_ESTABLISHED") or {}
    assert "caller@" in incoming.get("peeruri", ""), f"the caller's own phone called: {incoming}"
    assert body["endReason"] == "transferred" and body["transferTarget"] == agent.uri, body
    said = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert phrases_for("en").transfer_failed in said, said
    results = [t["ok"] for t in body["toolCalls"] if t["name"] == "transfer_to_human"]
    assert results == [False, True], body["toolCalls"]


async def test_a_campaign_call_over_sip_to_a_baresip_is_answered_held_and_settled(
    sip_server: ServerProcess, phones: dict[str, Baresip]
):
    callee = phones["callee"]
    seen = len(callee.events)
    settled = asyncio.create_task(
        campaign_call(sip_server, "baresip-human", CALLED, "baresip-test")
    )
    call = await BaresipCall.incoming(callee, seen)
    await call.heard_quiet()  # the assistant's greeting, at the lead's ear
    _, health = await sip_server.get_json("/healthz")
    heard = levels(callee.heard())
    await call.hang_up()
    contact = await settled

    incoming = call.event("CALL_ESTABLISHED") or {}
    assert "+15555550000@" in incoming.get("peeruri", ""), incoming
    assert health["liveCalls"] == 1 and health["sip"]["calls"] == 1
    assert np.count_nonzero(heard > LOUD_RMS) > 25, "the lead heard the greeting"
    assert contact["status"] == "completed", contact
    body = await sip_server.call(contact["lastCallId"])
    assert body["provider"] == "sip" and body["direction"] == "outbound"
    assert body["endReason"] == "caller-hangup" and body["status"] == "completed"
    assert body["transcript"][0]["text"] == GREETING
