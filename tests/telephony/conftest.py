"""Fixtures for telephony tests: the dialing rig."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm.db import Database
from telephony.dependencies import DEPS
from tests.fakes.twilio_rest import FakeTwilio
from tests.telephony.rig import Clock, Rig, serve_twilio_routes


@pytest.fixture
async def rig(database: Database) -> AsyncIterator[Rig]:
    twilio = await FakeTwilio().start()
    clock = Clock()
    server, url, providers = await serve_twilio_routes(database, twilio, clock)
    rig = Rig(
        db=database,
        twilio=twilio,
        clock=clock,
        server_url=url,
        providers=providers,
        status_hooks=server.app[DEPS].on_call_status,
    )
    try:
        yield rig
    finally:
        for engine in rig.engines:
            await engine.close()
        await twilio.stop()
        for provider in providers.values():
            await provider.close()
        await server.close()
