"""Warm transfers to a queue over SIP through the real server: hold, ring, whisper, bridge."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import soxr
from faster_whisper import WhisperModel
from sqlalchemy import select

from agent.phrases import phrases_for
from crm.db import Database
from crm.models import AuditLog
from tests.conftest import ServerProcess, start_scripted_server
from tests.e2e.assistants import QUEUE_HOLD_LINE
from tests.e2e.desk import REASON, SUMMARY, transfer_request
from tests.e2e.sip_rig import PhoneCall, sip_uri, speech_wav, tone_pcm
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.sip_phone import SipPhone
from tests.web.conftest import api
from voice.model_files import whisper_dir

pytestmark = pytest.mark.slow

QUEUE_LINE = "+15555550314"


def queue_assistant() -> dict:
    """An assistant whose transfers go to the sales queue, warm, each agent rung 5 s."""
    destination = {
        "type": "queue",
        "queue": "sales",
        "timeoutSeconds": 5,
        "message": QUEUE_HOLD_LINE,
        "description": "sales",
    }
    return {
        "name": "sip-queue",
        "firstMessage": "Hello, this is the SIP sales line.",
        "model": {
            "messages": [{"role": "system", "content": "You are a test assistant."}],
            "maxTokens": 80,
            "tools": [
                {"type": "function", "function": {"name": "schedule_callback"}},
                {"type": "transferCall", "destinations": [destination]},
            ],
        },
        "silenceTimeoutSeconds": 60,
        "phoneNumbers": [QUEUE_LINE],
    }


@pytest.fixture(scope="module")
async def phones() -> AsyncIterator[dict[str, SipPhone]]:
    """A caller, an agent's desk phone that answers, and one that rings and is never picked up."""
    started = await asyncio.gather(
        SipPhone(user="caller").start(),
        SipPhone(answer=200, user="agent").start(),
        SipPhone(answer=180, user="away").start(),
    )
    yield dict(zip(("caller", "agent", "away"), started, strict=True))
    await asyncio.gather(*(phone.stop() for phone in started))


@pytest.fixture(scope="module")
async def sip_server(fake_llm: FakeOpenAI, tmp_path_factory) -> AsyncIterator[ServerProcess]:
    """The real server with SIP on a free port and the queue assistant."""
    tmp = tmp_path_factory.mktemp("sip-warm")
    assistants = tmp / "assistants"
    assistants.mkdir()
    (assistants / "sip-queue.json").write_text(json.dumps(queue_assistant()))
    server = await start_scripted_server(
        tmp,
        fake_llm,
        ASSISTANTS_DIR=str(assistants),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stt() -> WhisperModel:
    return WhisperModel(str(whisper_dir("", Path("models"))), device="cpu", compute_type="int8")


@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> dict[str, Path]:
    """The caller's lines (espeak-ng) and the tones each side plays once bridged."""
    folder = tmp_path_factory.mktemp("sip-warm-lines")
    return {
        "person": speech_wav(folder, "person", "Can I talk to a person please?"),
        "yes": speech_wav(folder, "yes", "Yes please, call me back tomorrow."),
        "caller_tone": _wav(folder / "caller_tone.wav", tone_pcm(440, 2.0)),
        "agent_tone": _wav(folder / "agent_tone.wav", tone_pcm(880, 2.0)),
    }


def _wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm)
    return path


async def sip_agent(server: ServerProcess, name: str, uri: str) -> dict:
    """A new available agent of the sales queue reached at ``uri``; every other one offline."""
    _, agents = await api(server, "GET", "/api/agents")
    for agent in agents["data"]:
        path = f"/api/agents/{agent['id']}/presence"
        await api(server, "PUT", path, json={"presence": "offline"})
    body = {"name": name, "sipUri": uri, "queues": ["sales"], "presence": "available"}
    status, agent = await api(server, "POST", "/api/agents", json=body)
    assert status == 201, agent
    return agent


async def live_call(server: ServerProcess) -> dict:
    """The newest call, as it is now."""
    _, page = await server.get_json("/api/calls?limit=1")
    return await server.call(page["data"][0]["id"], ended=False)


async def transfer_reaches(server: ServerProcess, status: str, timeout: float = 40) -> dict:
    """The newest call once its transfer has ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await live_call(server)
        if body["transfers"] and body["transfers"][0]["status"] == status:
            return body
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the transfer never became {status}: {body['transfers']}")


def hz_by_tenth(pcm: bytes) -> list[int]:
    """The strongest frequency of each 100 ms of 8 kHz PCM (0 for silence), to 10 Hz."""
    step, heard = 1600, []
    for i in range(0, len(pcm) - step, step):
        x = np.frombuffer(pcm[i : i + step], "<i2").astype(float)
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        top = float(np.fft.rfftfreq(len(x), 1 / 8000)[spectrum.argmax()]) if x.any() else 0.0
        heard.append(round(top, -1))
    return heard


def transcribe(stt: WhisperModel, pcm: bytes) -> str:
    audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    segments, _ = stt.transcribe(soxr.resample(audio, 8000, 16000), language="en", beam_size=1)
    return " ".join(segment.text for segment in segments).lower()


@pytest.mark.flaky(reruns=2)
async def test_a_sip_warm_transfer_holds_whispers_to_the_agent_and_bridges(
    sip_server: ServerProcess,
    phones: dict[str, SipPhone],
    sounds: dict[str, Path],
    llm: FakeOpenAI,
    stt: WhisperModel,
    tmp_path,
):
    agent = await sip_agent(sip_server, "Sia Agent", phones["agent"].uri)
    llm.script.append(transfer_request())
    desk = phones["agent"]
    rung = len(desk.events)
    call = await PhoneCall.dial(phones["caller"], await sip_uri(sip_server, QUEUE_LINE))
    await call.heard_bot_finish()  # the greeting
    await call.say(sounds["person"])
    incoming = await desk.wait_for("incoming", after=rung, timeout=40)
    agent_call = PhoneCall(desk, incoming["call"], rung)
    await transfer_reaches(sip_server, "bridged")
    whispered = await agent_call.heard(tmp_path)  # before the caller is heard
    await desk.send("play", call=agent_call.index, path=str(sounds["agent_tone"]))
    await call.say(sounds["caller_tone"])
    await asyncio.sleep(2.5)
    caller_heard = await call.heard(tmp_path)
    agent_heard = await agent_call.heard(tmp_path)
    await call.hang_up()
    await desk.wait_for("state", after=rung, call=agent_call.index, state="DISCONNECTED")

    heard = transcribe(stt, whispered)
    assert "upgrade" in heard and "gigabit" in heard, f"the whisper: {heard!r}"
    assert {520, 530, 660} & set(hz_by_tenth(caller_heard)), "the caller held with music"
    assert 880 in hz_by_tenth(caller_heard)[-20:], "the caller hears the agent"
    assert 440 in hz_by_tenth(agent_heard)[-20:], "the agent hears the caller"
    assert "upgrade" not in transcribe(stt, caller_heard), "only the agent hears the whisper"
    body = await sip_server.call(call_id := (await live_call(sip_server))["id"])
    assert body["endReason"] == "transferred", "the assistant left the call"
    said = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert said[-1] == QUEUE_HOLD_LINE, "the caller was told, and the AI said nothing after"
    tools = [(t["name"], t["ok"]) for t in body["toolCalls"]]
    assert tools == [("transfer_to_human", True)], "stored, though the call ended as it returned"
    [transfer] = body["transfers"]
    assert (transfer["queue"], transfer["mode"], transfer["status"]) == ("sales", "warm", "bridged")
    assert transfer["agentId"] == agent["id"] and transfer["reason"] == REASON
    assert transfer["summary"] == SUMMARY
    assert [a["outcome"] for a in transfer["attempts"]] == ["answered"]
    assert transfer["bridgedAt"] > transfer["rangAt"] > transfer["requestedAt"]
    _, taken = await api(sip_server, "GET", f"/api/agents/{agent['id']}")
    assert taken["presence"] == "busy"
    print(
        f"\nSIP warm transfer {call_id}: ring {transfer['ringSeconds']:.2f}s, escalation to "
        f"bridge {transfer['bridgeSeconds']:.2f}s, of which the agent heard "
        f"{len(whispered) / 16000:.1f}s of whisper (and silence before it)"
    )


@pytest.mark.flaky(reruns=2)
async def test_no_answer_on_sip_takes_the_caller_back_and_a_callback_is_offered(
    sip_server: ServerProcess,
    phones: dict[str, SipPhone],
    sounds: dict[str, Path],
    llm: FakeOpenAI,
):
    agent = await sip_agent(sip_server, "Abe Away", phones["away"].uri)
    llm.script += [transfer_request(), Reply("Sure, when is a good time to call you back?")]
    away = phones["away"]
    rung = len(away.events)
    call = await PhoneCall.dial(phones["caller"], await sip_uri(sip_server, QUEUE_LINE))
    await call.heard_bot_finish()
    await call.say(sounds["person"])
    incoming = await away.wait_for("incoming", after=rung, timeout=40)
    await away.wait_for("state", after=rung, call=incoming["call"], state="DISCONNECTED")
    failed = phrases_for("en").transfer_failed
    deadline = time.monotonic() + 30
    while not any(line["text"] == failed for line in (await live_call(sip_server))["transcript"]):
        assert time.monotonic() < deadline, "the assistant never took the caller back"
        await asyncio.sleep(0.2)
    answer = await call.turn(sounds["yes"])
    await call.hang_up()

    assert answer is not None, "the assistant has the caller again"
    body = await sip_server.call((await live_call(sip_server))["id"])
    assert body["endReason"] == "caller-hangup"
    assert [(t["name"], t["ok"]) for t in body["toolCalls"]] == [("transfer_to_human", False)]
    [transfer] = body["transfers"]
    assert transfer["status"] == "no-answer" and transfer["bridgedAt"] is None
    assert [(a["agentId"], a["outcome"]) for a in transfer["attempts"]] == [
        (agent["id"], "no-answer")
    ]
    _, still = await api(sip_server, "GET", f"/api/agents/{agent['id']}")
    assert still["presence"] == "available"


async def listen_until_the_end(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, bool]:
    """Audio frames until the listen-in says ``end`` (or closes), and whether it said so."""
    frames = 0
    while True:
        message = await ws.receive(timeout=60)
        if message.type == aiohttp.WSMsgType.BINARY:
            frames += 1
        elif message.type == aiohttp.WSMsgType.TEXT:
            if json.loads(message.data)["type"] == "end":
                return frames, True
        else:
            return frames, False


async def test_a_sip_call_is_listened_to_and_taken_over_and_the_listen_in_ends_at_the_bridge(
    sip_server: ServerProcess, phones: dict[str, SipPhone]
):
    agent = await sip_agent(sip_server, "Tia Agent", phones["agent"].uri)
    desk, token = phones["agent"], {"Authorization": f"Bearer {agent['token']}"}
    rung = len(desk.events)
    call = await PhoneCall.dial(phones["caller"], await sip_uri(sip_server, QUEUE_LINE))
    await call.heard_bot_finish()
    call_id = (await live_call(sip_server))["id"]
    listen = sip_server.url.replace("http", "ws", 1) + f"/api/calls/{call_id}/listen"
    async with aiohttp.ClientSession(headers=token) as http:
        async with http.ws_connect(listen) as ws:
            start = await ws.receive_json(timeout=10)
            takeover = sip_server.url + f"/api/calls/{call_id}/takeover"
            async with http.post(takeover) as response:
                assert response.status == 202, await response.text()
            incoming = await desk.wait_for("incoming", after=rung, timeout=40)
            frames, ended = await listen_until_the_end(ws)
    await call.hang_up()
    await desk.wait_for("state", after=rung, call=incoming["call"], state="DISCONNECTED")

    assert start == {"type": "start", "callId": call_id} and frames > 25, "the call was heard"
    assert ended, "the listen-in ends when the AI leaves the bridged call"
    body = await sip_server.call(call_id)
    assert body["endReason"] == "taken-over", "the AI left the call"
    [transfer] = body["transfers"]
    assert (transfer["kind"], transfer["status"], transfer["agentId"]) == (
        "takeover",
        "bridged",
        agent["id"],
    )
    database = Database(sip_server.database_url)
    try:
        async with database.session() as session:
            entries = list(
                await session.scalars(select(AuditLog).where(AuditLog.entity_id == call_id))
            )
    finally:
        await database.close()
    assert [(e.actor, e.action) for e in entries] == [
        (f"api:agent:{agent['id']}", "call.listen"),
        (f"api:agent:{agent['id']}", "call.takeover"),
    ]
