"""Calls into the SIP engine from real user agents (a PJSIP phone and SIPp): audio, DTMF, ends."""

from __future__ import annotations

import asyncio
import socket
import wave

import pytest

from telephony.sip.digest import DigestCredentials
from telephony.sip.events import CallFailed, DtmfReceived, EndReason, HoldChanged
from telephony.sip.settings import InboundPolicy
from tests.fakes.sip_phone import SipPhone
from tests.fakes.sipp import DTMF_PCAPS, run_sipp
from tests.telephony.sip.conftest import Switchboard, collect_audio, dominant_hz, tone


async def _phone_calls(phone: SipPhone, uri: str) -> int:
    """Has ``phone`` call ``uri``; returns the phone's index for the call."""
    seen = len(phone.events)
    await phone.send("call", uri=uri)
    return (await phone.wait_for("state", after=seen))["call"]


async def test_an_answered_call_carries_audio_both_ways_until_the_caller_hangs_up(
    sip: Switchboard, caller_phone: SipPhone, workdir
):
    recording = workdir / "caller_heard.wav"
    await caller_phone.send("record", path=str(recording))
    index = await _phone_calls(caller_phone, sip.uri("+34910000000"))

    invite = await sip.next_invite()
    assert invite.request.request_user == "+34910000000"
    assert invite.request.from_user == "caller"
    assert invite.request.source_ip == "127.0.0.1"
    call = await invite.accept()
    call.send_audio(tone(1000, 3))
    heard = await collect_audio(call, 1.5)
    await caller_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    end = await asyncio.wait_for(call.ended, 10)

    assert len(heard) > 8000 * 2  # over half a second of 20 ms frames
    assert abs(dominant_hz(heard[-8000:]) - 440) < 10  # the caller's tone reached us
    with wave.open(str(recording)) as wav:
        caller_heard = wav.readframes(wav.getnframes())
    assert abs(dominant_hz(caller_heard[-8000:], wav.getframerate()) - 1000) < 10
    assert end.reason is EndReason.REMOTE_BYE


async def test_dtmf_by_rfc4733_and_by_sip_info_reaches_the_call(sip: Switchboard, workdir):
    run = asyncio.create_task(
        run_sipp(
            "uac_dtmf",
            sip.address,
            workdir,
            values={"DTMF_PCAP": str(DTMF_PCAPS / "dtmf_2833_1.pcap")},
        )
    )
    call = await sip.answer()
    digits = [event async for event in call.events() if isinstance(event, DtmfReceived)]

    assert (await run).ok, (await run).errors
    assert [(d.digit, d.method) for d in digits] == [("1", "rfc4733"), ("5", "sip-info")]
    assert call.ended.result().reason is EndReason.REMOTE_BYE


async def test_a_caller_who_gives_up_while_ringing_cancels_the_invite(sip: Switchboard, workdir):
    run = asyncio.create_task(
        run_sipp("uac_cancel", sip.address, workdir, transport="t1", values={"RING_MS": "300"})
    )
    invite = await sip.next_invite()
    end = await asyncio.wait_for(invite.call.ended, 10)

    assert (await run).ok, (await run).errors  # 180, then 200 to the CANCEL and 487
    assert invite.cancelled and end.reason is EndReason.REMOTE_CANCEL
    with pytest.raises(CallFailed):
        await invite.accept()


async def test_we_hang_up_a_live_call_with_bye(sip: Switchboard, workdir):
    run = asyncio.create_task(run_sipp("uac_wait_bye", sip.address, workdir, transport="t1"))
    call = await sip.answer()
    end = await call.hangup()

    assert (await run).ok, (await run).errors
    assert end.reason is EndReason.LOCAL_HANGUP


async def test_an_invite_offering_no_codec_we_speak_gets_488(sip: Switchboard, workdir):
    run = await run_sipp("uac_no_codec", sip.address, workdir)

    assert run.ok, run.errors
    assert sip.invites.empty()


async def test_malformed_invites_get_400_or_are_dropped_and_the_engine_goes_on(
    sip: Switchboard, workdir
):
    bad_sdp = await run_sipp("uac_bad_sdp", sip.address, workdir, values={"CODE": "400"})
    no_contact = await run_sipp("uac_no_contact", sip.address, workdir)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as garbage:  # unparseable: dropped
        garbage.sendto(b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\nCSeq: x\r\n\r\n", sip.address)
        garbage.sendto(bytes(range(256)) * 4, sip.address)
    keepalive = await run_sipp("uac_options", sip.address, workdir)

    assert bad_sdp.ok and no_contact.ok, bad_sdp.errors + no_contact.errors
    assert keepalive.ok, keepalive.errors
    assert sip.invites.empty()


async def test_a_source_not_allowed_is_refused_with_403_before_any_call_exists(
    sip: Switchboard, workdir
):
    sip.engine.policy = InboundPolicy(allowed_sources=("10.0.0.0/8", "192.168.1.7"))
    run = await run_sipp("uac_refused", sip.address, workdir, values={"CODE": "403"})

    assert run.ok, run.errors
    assert sip.invites.empty() and not sip.engine.calls


async def test_digest_auth_challenges_refuses_wrong_credentials_and_admits_right_ones(
    sip: Switchboard, workdir
):
    sip.engine.policy = InboundPolicy(credentials=DigestCredentials("trunk", "s3cret", "pbx"))
    unauthenticated = await run_sipp("uac_refused", sip.address, workdir, values={"CODE": "401"})
    wrong = await run_sipp(
        "uac_auth_refused", sip.address, workdir, values={"USERNAME": "trunk", "PASSWORD": "nope"}
    )
    assert unauthenticated.ok and wrong.ok, unauthenticated.errors + wrong.errors
    assert sip.invites.empty()

    right = asyncio.create_task(
        run_sipp(
            "uac_auth", sip.address, workdir, values={"USERNAME": "trunk", "PASSWORD": "s3cret"}
        )
    )
    call = await sip.answer()
    await asyncio.wait_for(call.ended, 10)
    assert (await right).ok, (await right).errors


async def test_hold_and_resume_by_reinvite_are_reported_and_audio_resumes(
    sip: Switchboard, caller_phone: SipPhone
):
    index = await _phone_calls(caller_phone, sip.uri("1000"))
    call = await sip.answer()
    events = call.events()
    await caller_phone.send("hold", call=index)
    assert await asyncio.wait_for(anext(events), 10) == HoldChanged(on_hold=True)
    await caller_phone.send("unhold", call=index)
    assert await asyncio.wait_for(anext(events), 10) == HoldChanged(on_hold=False)

    heard = await collect_audio(call, 0.6)
    assert abs(dominant_hz(heard[-4000:]) - 440) < 20
    await call.hangup()


async def test_a_caller_asking_for_session_timers_gets_them_in_the_answer(
    sip: Switchboard, workdir
):
    run = asyncio.create_task(run_sipp("uac_session_timer", sip.address, workdir))
    call = await sip.answer()
    await asyncio.wait_for(call.ended, 10)

    assert (await run).ok, (await run).errors  # 200 with Session-Expires: 120;refresher=uac


async def test_the_application_refuses_a_number_it_does_not_serve(sip: Switchboard, workdir):
    run = asyncio.create_task(run_sipp("uac_refused", sip.address, workdir, values={"CODE": "404"}))
    invite = await sip.next_invite()
    await invite.reject(404, "No Such Number")
    end = await asyncio.wait_for(invite.call.ended, 10)

    assert (await run).ok, (await run).errors
    assert "SIP/2.0 404 No Such Number" in (await run).messages
    assert end.reason is EndReason.REJECTED and not sip.engine.calls
