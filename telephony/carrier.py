"""What a carrier brings to a call (its leg) and how it plugs into the server (its registration)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from pipecat.transports.base_transport import BaseTransport

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.desk.plan import WarmPlan


class NotSupported(Exception):
    """The carrier cannot do this on a call; the message says what and why."""


class CallLeg(ABC):
    """One call as a carrier carries it: the little the call core needs that is the carrier's own.

    The call core (``CallSession``, ``CallConversation``, the pipeline, tools and the
    journal) never knows which carrier it runs on: it runs the pipeline on
    :meth:`transport`, asks :attr:`far_end_hung_up` why the media ended, and acts on the
    call through the other methods. Each carrier subclasses this once, in its own folder
    (``telephony/twilio/leg.py``); what a carrier cannot do keeps the default here.

    The transport fires pipecat's usual events: ``on_client_connected(transport)`` when
    media starts, ``on_client_disconnected(transport)`` when the far end went away
    without the hang-up the carrier announces (e.g. a dropped socket).
    """

    provider = ""  # the carrier's name, as stored on the call (``twilio``, ``sip``, ``web``)

    @abstractmethod
    def transport(self) -> BaseTransport:
        """The pipeline's audio in and out, with the carrier's codec; the same object each time."""

    @property
    @abstractmethod
    def far_end_hung_up(self) -> bool:
        """Whether the carrier said the other party hung up (the call ends as ``caller-hangup``)."""

    @abstractmethod
    async def hang_up(self) -> None:
        """End the carrier's side of the call; called once, as the call is finalized.

        Ending the pipeline already stops the media; this releases what outlives it
        (Twilio: the socket; SIP: the dialog, with BYE). Must not raise.
        """

    def cannot_transfer(self) -> str | None:
        """Why this call cannot be moved to a person now (None when it can).

        Asked before the transfer line is said, so a caller never hears a transfer
        that cannot happen.
        """
        return f"{self.provider or 'this carrier'} cannot transfer calls"

    async def transfer(self, destination: TransferDestination) -> None:
        """Move the call to ``destination``; the carrier then ends our media.

        Raises:
            TransferFailed: Refused or unreachable; the call is still ours.
        """
        raise TransferFailed(self.cannot_transfer() or "transfers are not supported")

    def cannot_warm_transfer(self) -> str | None:
        """Why this call cannot hold its caller while an agent is rung (None when it can)."""
        return self.cannot_transfer() or (
            f"{self.provider or 'this carrier'} cannot hold a caller for an agent (a warm "
            'transfer); give the queue "mode": "blind"'
        )

    async def warm_transfer(self, plan: WarmPlan) -> None:
        """Hold the caller, ring the plan's agents, whisper to the one who answers, bridge them.

        Returns once the caller and the agent are talking (the assistant's media then ends).

        Raises:
            TransferFailed: No agent took the call; the caller is back with the assistant
                (or has hung up, when the message says so).
        """
        raise TransferFailed(self.cannot_warm_transfer() or "warm transfers are not supported")

    async def send_dtmf(self, digits: str) -> None:
        """Send keypad tones to the far end, e.g. to walk an IVR; returns once they were sent.

        ``digits`` holds ``0-9``, ``*``, ``#`` and ``w``, half a second's pause (a carrier
        that cannot pause in its signalling sends the keys between them and waits).

        Raises:
            NotSupported: The carrier cannot send tones on this call.
            agent.tools.DtmfFailed: It tried and failed.
        """
        raise NotSupported(f"{self.provider or 'this carrier'} cannot send DTMF")

    async def start_recording(self) -> None:
        """Have the carrier record the call on its side, where it can.

        Raises:
            NotSupported: The carrier keeps no recording of its own (then the call's
                audio is recorded from the pipeline).
        """
        raise NotSupported(f"{self.provider or 'this carrier'} does not record calls")


class Carrier(Protocol):
    """A way into calls, as the server registers it: one per folder under ``telephony/``.

    ``mount`` adds the carrier's routes (and any start/stop work, with
    ``app.cleanup_ctx``) to the app. Its handlers find the shared pieces on the app:
    ``telephony.dependencies.DEPS`` (what every call shares) and ``telephony.live.LIVE``
    (the live calls); they open the call row (``telephony.opening.open_call``), build
    their :class:`CallLeg`, and run ``CallSession(deps, call, entry, leg)`` with
    ``live.hold(session)``. A carrier that places calls registers its dialer provider
    with ``telephony.outbound.providers.register_outbound``; one with state worth watching
    adds a report to ``app[HEALTH]``.
    """

    name: str

    def mount(self, app: web.Application) -> None:
        """Add this carrier to the app."""
        ...


HEALTH = web.AppKey("carrier_health", dict[str, Callable[[], dict[str, Any]]])
"""Each carrier's report for ``GET /healthz``, by name (``sip``: address, calls, capacity)."""
