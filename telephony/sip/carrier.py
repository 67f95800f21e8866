"""SIP as a way into calls and out of them: the engine starts and stops with the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pjsua2 as pj
from aiohttp import web
from loguru import logger

from telephony.capacity import CAPACITY
from telephony.carrier import HEALTH
from telephony.dependencies import DEPS, CallDependencies
from telephony.live import LIVE
from telephony.outbound.providers import register_outbound
from telephony.sip.engine import SipEngine
from telephony.sip.inbound import SipInbound
from telephony.sip.outbound import SipOutbound
from telephony.sip.server_settings import SipCarrierSettings


class SipStartError(RuntimeError):
    """The SIP endpoint cannot start (e.g. its port is taken); the message says what to set."""


class SipCarrier:
    """SIP trunks and PBXs calling in, and calls out through a trunk, on our PJSIP engine.

    ``mount`` starts the engine with the server (before the speech models load, so a
    taken port stops the start at once) and stops it after the live calls ended.
    INVITEs that arrive before the call dependencies are ready get 503 with
    Retry-After. It registers the dialer's ``sip`` provider and its state in
    ``/healthz``.
    """

    name = "sip"

    def __init__(self, settings: SipCarrierSettings):
        """Keep the settings; nothing listens until the app starts."""
        self.settings = settings
        self.engine: SipEngine | None = None
        self._app: web.Application | None = None
        self._inbound: SipInbound | None = None

    def mount(self, app: web.Application) -> None:
        """Start SIP with the app (unless SIP_ENABLED is off) and register its outbound provider."""
        if not self.settings.enabled:
            logger.info("SIP is off (SIP_ENABLED=false)")
            return
        self._app = app
        self._inbound = SipInbound(
            self._deps,
            app[LIVE],
            lambda: self.engine,
            trunk=self.settings.trunk,
            transfer_timeout=self.settings.engine.transfer_timeout_secs,
            capacity=app.get(CAPACITY),
            busy_retry_after=self.settings.engine.busy_retry_after_secs,
        )
        register_outbound(app, self.name, self.outbound)
        app.setdefault(HEALTH, {})[self.name] = self.health
        app.cleanup_ctx.append(self._run)

    def outbound(self, app: web.Application) -> SipOutbound:
        """Calls placed through the SIP trunk (SIP_TRUNK_HOST), answered by our call core."""
        assert self._inbound is not None
        return SipOutbound(
            lambda: self.engine,
            self._deps,
            app[LIVE],
            self._inbound,
            trunk=self.settings.trunk,
            machine_detection=self.settings.machine_detection,
        )

    def _deps(self) -> CallDependencies | None:
        return self._app.get(DEPS) if self._app is not None else None

    async def _run(self, app: web.Application) -> AsyncIterator[None]:
        assert self._inbound is not None
        engine = SipEngine(self.settings.engine, on_invite=self._inbound.on_invite)
        host, port = self.settings.engine.host, self.settings.engine.port
        try:
            await engine.start()
        except pj.Error as e:
            raise SipStartError(
                f"SIP cannot listen on {host}:{port} ({e.reason}): another SIP server (or "
                "phoneagent) may hold that port; set SIP_PORT (or SIP_HOST) to a free one, "
                "or SIP_ENABLED=false"
            ) from None
        self.engine = engine
        udp = engine.address(self.settings.engine.transports[0])
        trunk = self.settings.trunk
        logger.info(
            f"SIP listening on {udp[0]}:{udp[1]} ({'/'.join(self.settings.engine.transports)}), "
            f"{engine.capacity} calls at once"
            + (f"; calls out through {trunk.host}" if trunk else "; no trunk for calls out")
        )
        yield
        await self._inbound.stop()  # the live calls were ended on shutdown; calls ringing out
        self.engine = None
        await engine.stop()

    def health(self) -> dict[str, Any]:
        """Where SIP listens, how many calls it holds and can hold (for ``/healthz``)."""
        engine = self.engine
        if engine is None:
            return {"status": "starting"}
        host, port = engine.address(self.settings.engine.transports[0])
        return {
            "status": "ok",
            "address": f"{host}:{port}",
            "transports": list(self.settings.engine.transports),
            "calls": len(engine.calls),
            "capacity": engine.capacity,
            "refusedFull": engine.refused_full,
            "trunk": self.settings.trunk.host if self.settings.trunk else None,
        }
