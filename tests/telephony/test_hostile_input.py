"""Hostile or broken provider input on the Twilio routes: a clear answer, never a 500."""

from __future__ import annotations

import json

import aiohttp
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crm.models import Call
from tests.telephony.rig import Rig

CALL_SID = "CA" + "7" * 32


async def signed_post(rig: Rig, path: str, form: dict[str, str]) -> aiohttp.ClientResponse:
    url = rig.server_url + path
    signature = RequestValidator(rig.twilio.auth_token).compute_signature(url, form)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=form, headers={"X-Twilio-Signature": signature}) as r:
            await r.read()
            return r


async def ring(rig: Rig) -> None:
    form = {
        "CallSid": CALL_SID,
        "AccountSid": rig.twilio.account_sid,
        "From": "+14155550123",
        "To": "+15555550100",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    assert (await signed_post(rig, "/twilio/voice", form)).status == 200


async def stored_call(rig: Rig) -> Call:
    async with rig.db.session() as session:
        return await session.scalar(select(Call).where(Call.provider_call_id == CALL_SID))


async def test_an_absurd_signed_call_duration_is_clamped_to_a_day(rig: Rig):
    await ring(rig)
    form = {"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "1" + "0" * 23}
    assert (await signed_post(rig, "/twilio/status", form)).status == 204
    assert (await stored_call(rig)).duration_seconds == 24 * 3600


def voice_form(**fields: str) -> dict[str, str]:
    return {
        "CallSid": CALL_SID,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550123",
        "To": "+15555550100",
        "CallStatus": "ringing",
        "Direction": "inbound",
        **fields,
    }


async def signed(rig: Rig, path: str, form: dict[str, str], **headers: str) -> tuple[int, str]:
    url = rig.server_url + path
    signature = RequestValidator(rig.twilio.auth_token).compute_signature(url, form)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, data=form, headers={"X-Twilio-Signature": signature, **headers}
        ) as r:
            return r.status, await r.text()


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/twilio/voice", voice_form(CallStatus="x" * 100)),
        ("/twilio/voice", voice_form(CallSid="CA" + "1" * 200)),
        ("/twilio/voice", voice_form(AccountSid="AC" + "2" * 200)),
        ("/twilio/status", {"CallSid": CALL_SID}),
        ("/twilio/status", {"CallSid": CALL_SID, "CallStatus": "exploded"}),
        ("/twilio/amd", {"CallSid": CALL_SID, "AnsweredBy": "m" * 100}),
    ],
)
async def test_a_signed_form_that_twilio_would_never_send_is_400_naming_the_field(
    rig: Rig, path, form
):
    status, text = await signed(rig, path, form)
    assert status == 400, text
    body = json.loads(text)
    assert body["error"] == "invalid_request" and body["fields"], body
    async with rig.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Call)) == 0


async def test_a_long_sip_address_is_kept_as_its_number(rig: Rig):
    sip = "sip:+14155550123@very-long-trunk-name.pstn.ashburn.twilio.com;transport=tls"
    status, text = await signed(rig, "/twilio/voice", voice_form(From=sip))
    assert status == 200, text
    assert (await stored_call(rig)).from_number == "+14155550123"


async def test_an_unknown_charset_is_read_as_twilios_utf8(rig: Rig):
    status, text = await signed(
        rig,
        "/twilio/voice",
        voice_form(From="+14155550123"),
        **{"Content-Type": "application/x-www-form-urlencoded; charset=no-such-charset"},
    )
    assert status == 200, text


@pytest.mark.parametrize(
    "start",
    [
        {"streamSid": "MZ1", "customParameters": ["callId", "x"]},
        {"streamSid": "MZ1", "customParameters": {"callId": 5, "token": "x"}},
        {"streamSid": "MZ1", "customParameters": {"callId": "c1", "token": "t\u00f6ken\u2603"}},
        {"streamSid": "MZ1", "customParameters": {"callId": "\ud800", "token": "\ud800"}},
        {"streamSid": ["MZ1"], "customParameters": {}},
        "not an object",
    ],
)
async def test_a_malformed_stream_start_closes_the_socket_with_1008(rig: Rig, start):
    await ring(rig)
    url = rig.server_url.replace("http", "ws") + "/twilio/stream"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"event": "connected"}))
        await ws.send_str(json.dumps({"event": "start", "start": start}))
        message = await ws.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1008
