"""Fixtures for telephony tests: the dialing rig."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm.db import Database
from telephony.dependencies import DEPS
from telephony.twilio.outbound import TwilioOutbound
from tests.fakes.twilio_rest import FakeTwilio
from tests.telephony.rig import Clock, Rig, serve_twilio_routes


@pytest.fixture
async def rig(database: Database) -> AsyncIterator[Rig]:
    twilio = await FakeTwilio().start()
    clock = Clock()
    server, url = await serve_twilio_routes(database, twilio, clock)
    outbound = TwilioOutbound(twilio.account_sid, twilio.auth_token, url, api_base_url=twilio.url)
    rig = Rig(
        db=database,
        twilio=twilio,
        clock=clock,
        server_url=url,
        outbound=outbound,
        status_hooks=server.app[DEPS].on_call_status,
    )
    try:
        yield rig
    finally:
        for engine in rig.engines:
            await engine.close()
        await twilio.stop()
        await outbound.close()
        await server.close()
