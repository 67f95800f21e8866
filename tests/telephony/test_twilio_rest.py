"""Live-call updates through the twilio client, pointed at a local fake of Twilio's REST API."""

from __future__ import annotations

import pytest

from agent.tool_config import TransferDestination
from telephony.twilio.rest import TwilioRest, TwilioRestError, dial_twiml
from tests.fakes.twilio_rest import FakeTwilio

CALL_SID = "CA" + "a" * 32


def rest(fake: FakeTwilio, token: str | None = None) -> TwilioRest:
    return TwilioRest(fake.account_sid, token or fake.auth_token, fake.url)


@pytest.mark.parametrize(
    ("destination", "dial"),
    [
        (TransferDestination(number="+14155550199"), "<Number>+14155550199</Number>"),
        (
            TransferDestination(type="sip", sip_uri="sip:sales@pbx.example.com"),
            "<Sip>sip:sales@pbx.example.com</Sip>",
        ),
    ],
    ids=["number", "sip"],
)
async def test_transfer_twiml_reaches_twilio(twilio_api: FakeTwilio, destination, dial):
    await rest(twilio_api).update_twiml(CALL_SID, dial_twiml(destination))
    [update] = twilio_api.updates
    assert (update.account_sid, update.call_sid, update.username) == (
        twilio_api.account_sid,
        CALL_SID,
        twilio_api.account_sid,
    )
    assert update.twiml.endswith(f'<Response><Dial timeout="30">{dial}</Dial></Response>')


async def test_refusals_and_missing_credentials_are_errors(twilio_api: FakeTwilio):
    twilio_api.fail_with = 400
    with pytest.raises(
        TwilioRestError, match="Twilio answered HTTP 400: .*Call is not in-progress"
    ):
        await rest(twilio_api).update_twiml(CALL_SID, "<Response/>")
    twilio_api.fail_with = None
    with pytest.raises(TwilioRestError, match="HTTP 401"):
        await rest(twilio_api, token="wrong").update_twiml(CALL_SID, "<Response/>")
    with pytest.raises(TwilioRestError, match="TWILIO_ACCOUNT_SID"):
        await TwilioRest("", "").update_twiml(CALL_SID, "<Response/>")
    with pytest.raises(TwilioRestError, match="could not be reached"):
        await TwilioRest("AC1", "t", "http://127.0.0.1:9").update_twiml(CALL_SID, "<Response/>")
