"""Hostile or broken provider input on the Twilio routes: a clear answer, never a 500."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select
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
