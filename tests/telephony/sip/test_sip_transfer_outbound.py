"""Blind transfers (REFER) and calls out, against PJSIP phones and SIPp as a carrier trunk."""

from __future__ import annotations

import asyncio

import pytest

from telephony.sip.events import CallFailed, EndReason
from telephony.sip.settings import SipTrunk
from tests.fakes.sip_phone import SipPhone
from tests.fakes.sipp import free_udp_port, run_sipp, wait_listening
from tests.telephony.sip.conftest import Switchboard, collect_audio, dominant_hz


async def _answered_call_from(phone: SipPhone, sip: Switchboard):
    seen = len(phone.events)
    await phone.send("call", uri=sip.uri("1000"))
    index = (await phone.wait_for("state", after=seen))["call"]
    return index, await sip.answer()


async def test_refer_moves_the_caller_to_an_agent_who_answers(
    sip: Switchboard, caller_phone: SipPhone, agent_phone: SipPhone
):
    agent_seen = len(agent_phone.events)
    _, call = await _answered_call_from(caller_phone, sip)
    outcome = await call.transfer(agent_phone.uri)
    end = await asyncio.wait_for(call.ended, 10)

    assert outcome.succeeded and outcome.status_code == 200
    assert end.reason is EndReason.TRANSFERRED
    incoming = await agent_phone.wait_for("incoming", after=agent_seen)
    assert "caller@" in incoming["remote"]  # the caller's phone now talks to the agent
    await agent_phone.wait_for("state", after=agent_seen, state="CONFIRMED")
    await agent_phone.send("hangup", call=incoming["call"])


async def test_a_refer_the_target_refuses_is_reported_failed_and_the_call_stays_with_us(
    sip: Switchboard, caller_phone: SipPhone, busy_phone: SipPhone
):
    index, call = await _answered_call_from(caller_phone, sip)
    outcome = await call.transfer(busy_phone.uri)

    assert outcome.final and not outcome.succeeded and outcome.status_code == 486
    assert not call.is_ended
    heard = await collect_audio(call, 0.5)  # the caller is still with us
    assert abs(dominant_hz(heard[-3200:]) - 440) < 20
    await caller_phone.send("hangup", call=index)
    assert (await asyncio.wait_for(call.ended, 10)).reason is EndReason.REMOTE_BYE


async def test_an_outbound_call_to_a_phone_that_answers_is_live_until_we_hang_up(
    sip: Switchboard, agent_phone: SipPhone
):
    seen = len(agent_phone.events)
    call = await sip.engine.place_call(agent_phone.uri)
    heard = await collect_audio(call, 1.0)
    end = await call.hangup()

    assert call.direction == "outbound" and call.sip_call_id
    assert abs(dominant_hz(heard[-4000:]) - 880) < 10  # the agent phone's tone
    assert end.reason is EndReason.LOCAL_HANGUP
    await agent_phone.wait_for("state", after=seen, state="DISCONNECTED")


async def test_a_busy_callee_fails_the_outbound_call(sip: Switchboard, busy_phone: SipPhone):
    with pytest.raises(CallFailed) as failed:
        await sip.engine.place_call(busy_phone.uri)
    assert failed.value.status_code == 486
    assert not sip.engine.calls


@pytest.mark.parametrize("password, answered", [("carrier-pw", True), ("wrong", False)])
async def test_a_call_out_through_a_trunk_answers_its_digest_challenge(
    sip: Switchboard, workdir, tone_wav, password: str, answered: bool
):
    port = free_udp_port()
    carrier = asyncio.create_task(
        run_sipp(
            "uas_trunk",
            None,
            workdir,
            port=port,
            values={"USERNAME": "acme", "PASSWORD": "carrier-pw", "TONE_WAV": str(tone_wav)},
        )
    )
    await wait_listening(port)
    trunk = SipTrunk(host=f"127.0.0.1:{port}", username="acme", password=password)
    if not answered:
        with pytest.raises(CallFailed) as failed:
            await sip.engine.place_call("+34600123456", trunk=trunk)
        assert failed.value.status_code == 403
        assert (await carrier).ok, (await carrier).errors
        return
    call = await sip.engine.place_call("+34600123456", trunk=trunk)
    heard = await collect_audio(call, 1.0)
    await call.hangup()

    assert (await carrier).ok, (await carrier).errors  # 401, then a digest SIPp verified
    assert call.remote_uri.startswith("sip:+34600123456@")
    assert abs(dominant_hz(heard[-4000:]) - 700) < 10


async def test_unusable_uris_are_refused_with_a_clear_error_and_the_call_goes_on(
    sip: Switchboard, caller_phone: SipPhone
):
    with pytest.raises(ValueError, match="cannot call"):
        await sip.engine.place_call("sip:not a uri")
    index, call = await _answered_call_from(caller_phone, sip)
    with pytest.raises(ValueError, match="cannot transfer"):
        await call.transfer("sip:not a uri")

    assert not call.is_ended
    await caller_phone.send("hangup", call=index)
    await asyncio.wait_for(call.ended, 10)


async def test_an_unanswered_outbound_call_is_cancelled_at_the_ring_timeout(
    sip: Switchboard, ringing_phone: SipPhone
):
    seen = len(ringing_phone.events)
    with pytest.raises(CallFailed) as failed:
        await sip.engine.place_call(ringing_phone.uri, ring_timeout=1.0)
    gone = await ringing_phone.wait_for("state", after=seen, state="DISCONNECTED")

    assert failed.value.status_code == 408
    assert gone["code"] == 487  # our CANCEL ended its INVITE
    assert not sip.engine.calls


async def test_we_send_dtmf_as_rfc4733_events(sip: Switchboard, agent_phone: SipPhone):
    seen = len(agent_phone.events)
    call = await sip.engine.place_call(agent_phone.uri)
    await call.send_dtmf("12#")
    digits = [
        (await agent_phone.wait_for("dtmf", after=seen, digit=d))["digit"] for d in ("1", "2", "#")
    ]
    await call.hangup()

    assert digits == ["1", "2", "#"]
    with pytest.raises(ValueError, match="not DTMF"):
        await call.send_dtmf("12x")
