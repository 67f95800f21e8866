"""Warm transfers to a queue over Twilio: hold, ring, whisper, bridge; or back to the assistant."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess
from tests.e2e.assistants import QUEUE_HOLD_LINE, QUEUE_LINE
from tests.e2e.desk import REASON, SUMMARY, caller, only_agent, transfer_request, wait_until
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.twilio_rest import NO_ANSWER, FakeTwilio
from tests.web.conftest import api

pytestmark = pytest.mark.slow


async def test_a_warm_transfer_holds_rings_whispers_and_bridges(
    tools_server: ServerProcess, llm: FakeOpenAI, conferences: FakeTwilio
):
    twilio = conferences
    twilio.ring_delays["+15555550398"] = 1.0
    agent = await only_agent(tools_server, "Ana Agent", "+15555550398")
    llm.script.append(transfer_request())
    async with caller(tools_server, twilio, "+15555550131") as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("I'd like to talk to someone in sales."), "transfer")
        await wait_until(
            lambda: any(e.startswith("conference:participant-unhold") for _, e in twilio.timeline)
        )
        body = await tools_server.call(call.call_id)
    [conference] = twilio.conferences.values()
    kinds = [e["StatusCallbackEvent"] for e in conference.events]
    assert kinds[:2] == ["participant-join", "participant-hold"], "the caller joins, then holds"
    assert kinds.index("participant-unhold") > kinds.index("conference-start")
    caller_leg = conference.participants[call.call_sid]
    assert not caller_leg.hold and caller_leg.end_conference_on_exit
    assert "hold.wav" in caller_leg.hold_twiml[0], "hold music, not silence"
    agent_leg = conference.by_label(f"agent-{agent['id']}")
    assert agent_leg is not None and agent_leg.early_media and agent_leg.beep == "false"
    assert agent_leg.params["From"] == QUEUE_LINE and agent_leg.start_conference_on_enter
    [whisper] = agent_leg.announcements
    assert REASON in whisper and SUMMARY in whisper and "<Redirect>" in whisper
    assert not caller_leg.announcements, "only the agent hears the whisper"
    moments = [what for _, what in twilio.timeline]
    assert moments.index(f"announce:done:agent-{agent['id']}") < moments.index(
        f"conference:participant-unhold:{call.call_sid}"
    ), "the caller is bridged after the whisper was said"

    assert body["endReason"] == "transferred", "the assistant left the call"
    heard = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert heard[-1] == QUEUE_HOLD_LINE, "the caller was told, and the AI said nothing after"
    [transfer] = body["transfers"]
    assert (transfer["queue"], transfer["mode"], transfer["status"]) == ("sales", "warm", "bridged")
    assert transfer["agentId"] == agent["id"] and transfer["ringSeconds"] >= 1.0
    assert [a["outcome"] for a in transfer["attempts"]] == ["answered"]
    assert transfer["bridgedAt"] > transfer["rangAt"] > transfer["requestedAt"]
    status, taken = await api(tools_server, "GET", f"/api/agents/{agent['id']}")
    assert taken["presence"] == "busy"
    print_times(transfer, twilio, call.call_sid)


def print_times(transfer: dict, twilio: FakeTwilio, caller_sid: str) -> None:
    """Escalation (the tool call) to ringing and to the bridge; and from the hold, at the fake."""
    ringing = (
        datetime.fromisoformat(transfer["rangAt"]) - datetime.fromisoformat(transfer["requestedAt"])
    ).total_seconds()
    moments = {what.split(":")[0] + ":" + what.split(":")[1]: at for at, what in twilio.timeline}
    held = moments["update:" + caller_sid]
    rung = next(at for at, what in twilio.timeline if what.startswith("participant:ringing"))
    bridged = next(
        at for at, what in twilio.timeline if what.startswith("conference:participant-unhold")
    )
    print(
        f"\nwarm transfer (fake ring {twilio.ring_delays}, say {twilio.say_secs}s): escalation to "
        f"agent ringing {ringing:.2f}s, to bridge {transfer['bridgeSeconds']:.2f}s (ring "
        f"{transfer['ringSeconds']:.2f}s); from the caller's move to the conference: ringing "
        f"{rung - held:.2f}s, bridge {bridged - held:.2f}s"
    )


async def said(server: ServerProcess, call_id: str, words: str, timeout: float = 30.0) -> None:
    """Wait until the assistant's transcript holds ``words`` (it was heard in full)."""
    for _ in range(int(timeout / 0.2)):
        body = await server.call(call_id, ended=False)
        if any(words in line["text"] for line in body["transcript"]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the assistant did not say {words!r}")


@pytest.mark.flaky(reruns=2)
async def test_no_answer_takes_the_caller_back_and_a_callback_is_offered(
    tools_server: ServerProcess, llm: FakeOpenAI, conferences: FakeTwilio
):
    twilio = conferences
    twilio.scenarios["+15555550397"] = NO_ANSWER
    twilio.ring_delays["+15555550397"] = 0.5
    agent = await only_agent(tools_server, "Bo Agent", "+15555550397")
    llm.script += [transfer_request(), Reply("Sure, when is a good time to call you back?")]
    async with caller(tools_server, twilio, "+15555550132") as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("Can I speak to a person?"), "transfer")
        await wait_until(lambda: call.streams == 2)
        await said(tools_server, call.call_id, "couldn't reach a colleague")
        answer = await call.say(speech_ulaw("Yes please."), "yes")
    assert answer.voice_to_voice_ms is not None, "the assistant has the caller again"
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "caller-hangup"
    heard = " ".join(line["text"] for line in body["transcript"] if line["role"] == "assistant")
    assert "couldn't reach a colleague right now. Would you like someone to call you back?" in heard
    [transfer] = body["transfers"]
    assert transfer["status"] == "no-answer" and transfer["bridgedAt"] is None
    assert [(a["agentId"], a["outcome"]) for a in transfer["attempts"]] == [
        (agent["id"], "no-answer")
    ]
    [conference] = twilio.conferences.values()
    assert conference.status == "completed" and not conference.participants
    assert body["transferTarget"] is None


async def test_all_agents_busy_is_said_at_once_without_a_conference(
    tools_server: ServerProcess, llm: FakeOpenAI, conferences: FakeTwilio
):
    agent = await only_agent(tools_server, "Cy Agent", "+15555550396", presence="busy")
    llm.script += [transfer_request(), Reply("Of course. When should we call you?")]
    async with caller(tools_server, conferences, "+15555550133") as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("Put me through to sales please."), "transfer")
        for _ in range(100):  # the refusal is said at once; the row is written just before
            if (await tools_server.call(call.call_id, ended=False))["transfers"]:
                break
            await asyncio.sleep(0.2)
    body = await tools_server.call(call.call_id)
    [transfer] = body["transfers"]
    assert transfer["status"] == "all-busy" and transfer["attempts"] == []
    assert not conferences.conferences and not conferences.updates
    assert agent["presence"] == "busy"


async def test_a_blind_queue_transfer_dials_an_available_agent(
    tools_server: ServerProcess, llm: FakeOpenAI, conferences: FakeTwilio
):
    agent = await only_agent(tools_server, "Gil Agent", "+15555550392", queue="support")
    llm.script.append(transfer_request("support"))
    async with caller(tools_server, conferences, "+15555550136") as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("My internet is down, I need support."), "transfer")
        await wait_until(lambda: conferences.updates)
    [update] = conferences.updates
    assert '<Dial timeout="30"><Number>+15555550392</Number></Dial>' in update.twiml
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "transferred" and body["transferTarget"] == "queue:support"
    [transfer] = body["transfers"]
    assert (transfer["mode"], transfer["status"], transfer["agentId"]) == (
        "blind",
        "transferred",
        agent["id"],
    )
    assert not conferences.conferences, "no conference: the call was moved at once"


async def test_an_agent_who_declines_is_hung_up_and_the_next_one_rung(
    tools_server: ServerProcess, llm: FakeOpenAI, conferences: FakeTwilio
):
    twilio = conferences
    twilio.ring_delays["+15555550391"] = 20.0  # Hal would let it ring
    twilio.ring_delays["+15555550390"] = 0.5
    hal = await only_agent(tools_server, "Hal Agent", "+15555550391")
    status, ian = await api(
        tools_server,
        "POST",
        "/api/agents",
        json={
            "name": "Ian Agent",
            "phone": "+15555550390",
            "queues": ["sales"],
            "presence": "available",
        },
    )
    assert status == 201
    llm.script.append(transfer_request())
    async with caller(tools_server, twilio, "+15555550137") as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("Can I speak with sales?"), "transfer")
        await wait_until(lambda: any("participant:ringing" in e for _, e in twilio.timeline))
        status, offered = await api(
            tools_server,
            "GET",
            "/api/transfers",
            headers={"Authorization": f"Bearer {hal['token']}"},
        )
        [transfer] = offered["data"]
        status, declined = await api(
            tools_server,
            "POST",
            f"/api/transfers/{transfer['id']}/decline",
            headers={"Authorization": f"Bearer {hal['token']}"},
        )
        assert status == 200, declined
        await wait_until(
            lambda: any(e.startswith("conference:participant-unhold") for _, e in twilio.timeline)
        )
        body = await tools_server.call(call.call_id)
    [transfer] = body["transfers"]
    assert [(a["agentId"], a["outcome"]) for a in transfer["attempts"]] == [
        (hal["id"], "declined"),
        (ian["id"], "answered"),
    ]
    assert transfer["agentId"] == ian["id"] and transfer["status"] == "bridged"
    hal_call = next(c for c in twilio.calls if c.to == "+15555550391")
    assert hal_call.status == "canceled", "Hal's phone stopped ringing"
