"""Live-call updates (transfers, keys) through the twilio client, at a local fake of Twilio."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from pipecat.frames.frames import EndTaskFrame

from agent.tool_config import TransferDestination
from agent.tools import DtmfFailed
from telephony.carrier import CallLeg, NotSupported
from telephony.twilio.leg import StreamRoute, TwilioLeg
from telephony.twilio.rest import TwilioRest, TwilioRestError, dial_twiml
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.twilio.streams import MediaStream, StreamHandovers, stream_token
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


def leg(fake: FakeTwilio | None, handovers: StreamHandovers) -> TwilioLeg:
    route = StreamRoute("wss://agent.example.com/twilio/stream", "secret", handovers)
    client = rest(fake) if fake else TwilioRest("", "")
    stream = MediaStream(web.WebSocketResponse(), "MZ1")
    return TwilioLeg(stream, TwilioMediaSerializer("MZ1", CALL_SID), client, CALL_SID, "c1", route)


async def test_keys_twilio_refuses_leave_the_call_on_its_stream(twilio_api: FakeTwilio):
    twilio_api.fail_with = 400
    handovers = StreamHandovers()
    call = leg(twilio_api, handovers)
    with pytest.raises(DtmfFailed, match="HTTP 400"):
        await call.send_dtmf("1w2")
    [update] = twilio_api.updates
    token = stream_token("secret", "c1")
    assert update.twiml.endswith(
        '<Response><Play digits="1w2" /><Connect><Stream url="wss://agent.example.com/twilio/'
        f'stream"><Parameter name="callId" value="c1" /><Parameter name="token" value="{token}" />'
        "</Stream></Connect></Response>"
    ), "the keys, then the call's stream again, tied to it like its first one"
    assert not handovers.arrive("c1", MediaStream(web.WebSocketResponse(), "MZ2"))
    stop = await call._serializer.deserialize(json.dumps({"event": "stop", "streamSid": "MZ1"}))
    assert isinstance(stop, EndTaskFrame), "the stream's own stop is a hang-up again"

    with pytest.raises(NotSupported, match="TWILIO_ACCOUNT_SID"):
        await leg(None, handovers).send_dtmf("1")


async def test_a_warm_transfer_says_what_it_lacks_before_the_caller_is_told(
    twilio_api: FakeTwilio,
):
    handovers = StreamHandovers()
    assert "TWILIO_ACCOUNT_SID" in (leg(None, handovers).cannot_warm_transfer() or "")
    assert "PUBLIC_URL" in (leg(twilio_api, handovers).cannot_warm_transfer() or "")

    class CanTransferOnly(CallLeg):
        provider = "web"
        far_end_hung_up = False

        def transport(self):
            raise NotImplementedError

        async def hang_up(self) -> None:
            pass

        def cannot_transfer(self) -> str | None:
            return None

    reason = CanTransferOnly().cannot_warm_transfer() or ""
    assert reason.startswith("web cannot hold a caller") and '"mode": "blind"' in reason, (
        "a carrier without conferences refuses a warm transfer and says what to do"
    )
