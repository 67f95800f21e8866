"""Placing outbound calls: what every provider does, and how a carrier registers its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from loguru import logger


@dataclass(frozen=True)
class OutboundCall:
    """What the provider needs to place one call.

    Parameters:
        call_id: Our call id (it rides on the callback URLs).
        to: The number to call (E.164).
        from_number: Our caller ID (E.164).
        assistant: The assistant that talks (providers that run it themselves need it).
        lead_id: The lead being called (for the assistant's variables).
    """

    call_id: str
    to: str
    from_number: str
    assistant: str | None = None
    lead_id: str | None = None


class DialError(RuntimeError):
    """The provider refused to place a call.

    Attributes:
        invalid_number: The number cannot be called at all (do not retry).
    """

    def __init__(self, message: str, *, invalid_number: bool = False):
        super().__init__(message)
        self.invalid_number = invalid_number


class OutboundProvider(Protocol):
    """Places calls; status arrives later through the provider's callbacks.

    ``runs_here``: whether an answered call runs on this server's own pipeline (and so
    takes one of its lines: the dialer places no more than the free capacity), or on
    the provider's (VAPI).
    """

    runs_here: bool

    async def place(self, call: OutboundCall) -> str:
        """Place a call and return the provider's id for it.

        Raises:
            DialError: The provider refused it.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


# Builds a carrier's provider as the dialer starts, from what the app holds by then (a
# carrier's engine, VAPI's service); None when the carrier has no outbound settings.
OutboundFactory = Callable[[web.Application], OutboundProvider | None]
OUTBOUND = web.AppKey[dict[str, OutboundFactory]]("outbound_factories")


def register_outbound(app: web.Application, name: str, factory: OutboundFactory) -> None:
    """Offer a carrier's outbound provider to the dialer, as ``name``: one line in its ``mount``.

    Campaigns reach it by that name (see :mod:`telephony.outbound.routing`); the dialer
    closes it when the server stops.
    """
    app.setdefault(OUTBOUND, {})[name] = factory


def build_providers(app: web.Application) -> dict[str, OutboundProvider]:
    """The registered providers that are configured, by name (built once, as the dialer starts)."""
    providers = {}
    for name, factory in app.get(OUTBOUND, {}).items():
        provider = factory(app)
        if provider is None:
            logger.debug(f"outbound provider {name}: not configured")
        else:
            providers[name] = provider
    return providers
