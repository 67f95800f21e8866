"""A dialing rig: our Twilio routes on a real port, a fake Twilio REST API, a controllable clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from agent.library import AssistantLibrary
from crm.db import Database
from crm.leads import LeadStore
from crm.models import Campaign, Lead
from crm.outbound.campaign_spec import CampaignSpec
from crm.outbound.campaigns import apply_spec
from telephony.dependencies import DEPS, CallDependencies
from telephony.live import LIVE, LiveCalls
from telephony.outbound.dialer import Dialer
from telephony.outbound.providers import OutboundProvider, build_providers
from telephony.twilio.carrier import TwilioCarrier
from telephony.twilio.settings import TwilioSettings
from tests.conftest import free_port
from tests.fakes.twilio_rest import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Clock:
    """The time the dialer sees; tests move it."""

    now: datetime = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # a Tuesday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Rig:
    """Everything a dialer test needs."""

    db: Database
    twilio: FakeTwilio
    clock: Clock
    server_url: str
    providers: dict[str, OutboundProvider]
    dialers: list[Dialer] = field(default_factory=list)
    engines: list[Database] = field(default_factory=list)
    status_hooks: list = field(
        default_factory=list
    )  # the served routes' own list: tests may add hooks

    def dialer(self, name: str = "dialer-a", *, own_engine: bool = False) -> Dialer:
        """A dialer instance; ``own_engine`` gives it its own connection pool, like a server's."""
        db = Database(self.db.url) if own_engine else self.db
        if own_engine:
            self.engines.append(db)
        dialer = Dialer(
            db,
            self.providers,
            default_from="+15555550000",
            clock=self.clock,
            instance=name,
        )
        self.dialers.append(dialer)
        return dialer

    async def campaign(self, **spec) -> Campaign:
        spec.setdefault("audience", {})
        campaign = Campaign(status=spec.pop("status", "active"), started_at=self.clock.now)
        apply_spec(
            campaign, CampaignSpec.model_validate({"name": "test", "assistant": "default", **spec})
        )
        async with self.db.session() as session:
            session.add(campaign)
        return campaign

    async def lead(self, phone: str, **fields) -> Lead:
        lead = await LeadStore(self.db).get_or_create(phone, source="test")
        if fields:
            async with self.db.session() as session:
                row = await session.get(Lead, lead.id)
                for key, value in fields.items():
                    setattr(row, key, value)
            lead = row
        return lead

    async def tick(self, dialer: Dialer | None = None) -> int:
        """One dialer tick, then wait for the fake to finish calling back."""
        placed = await (dialer or self.dialers[0]).tick()
        await self.twilio.idle()
        return placed


async def serve_twilio_routes(
    database: Database, twilio: FakeTwilio, clock: Callable[[], datetime]
) -> tuple[TestServer, str, dict[str, OutboundProvider]]:
    """Our real Twilio routes on a real port, wired as the server wires them.

    The Twilio carrier is mounted (registering its outbound provider, returned built),
    and a dialer on ``clock`` settles campaign calls from the status callbacks.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    assistants = AssistantLibrary(ROOT / "assistants")
    await assistants.load()
    deps = CallDependencies(database, assistants)  # no speech: answered calls are not streamed
    app = web.Application()
    app[DEPS], app[LIVE] = deps, LiveCalls()
    stream_url = f"ws://127.0.0.1:{port}/twilio/stream"
    settings = TwilioSettings(
        twilio.account_sid, twilio.auth_token, url, stream_url, "test-secret", twilio.url
    )
    TwilioCarrier(settings).mount(app)
    providers = build_providers(app)
    deps.on_call_status.append(Dialer(database, providers, clock=clock, instance="server").settle)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return server, url, providers
