"""A call SIP carries: RTP audio through our PJSIP engine, REFER for transfers, RFC 4733 digits."""

from __future__ import annotations

from loguru import logger

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.carrier import CallLeg, NotSupported
from telephony.sip.call import SipCall
from telephony.sip.engine import dial_uri
from telephony.sip.events import CallFailed, EndReason
from telephony.sip.request import InviteRequest
from telephony.sip.settings import SipTrunk
from telephony.sip.transport import AudioTap, SipCallTransport

# The far end ended the call (anything else is ours, a transfer, or a failure).
_HUNG_UP = (EndReason.REMOTE_BYE, EndReason.REMOTE_CANCEL)


def transfer_uri(
    destination: TransferDestination, trunk: SipTrunk | None, request: InviteRequest | None
) -> str:
    """Where a REFER sends the caller: a SIP URI as given; a number through the trunk.

    Without a trunk, a number goes back where the call came from (the PBX or trunk
    that sent the INVITE), which routes it like any number its users dial.

    Raises:
        TransferFailed: A number, with no trunk and no caller address to route it through.
    """
    if destination.type == "sip" or trunk is not None:
        return dial_uri(destination.target, trunk)
    if request is not None and request.source_ip:
        host = f"[{request.source_ip}]" if ":" in request.source_ip else request.source_ip
        return f"sip:{destination.target}@{host}:{request.source_port or 5060}"
    raise TransferFailed("no SIP trunk to reach a number through (set SIP_TRUNK_HOST)")


class SipLeg(CallLeg):
    """:class:`telephony.carrier.CallLeg` for a call on our SIP engine (``provider = "sip"``).

    Audio is 8 kHz PCM through :class:`SipCallTransport` (our queue is the only
    buffer, so a barge-in is silent within a frame); transfers are blind REFERs
    whose final NOTIFY says whether the target answered; digits go out as RFC 4733
    events. PJSIP records nothing: the call's audio is recorded from the pipeline.
    """

    provider = "sip"

    def __init__(
        self,
        call: SipCall,
        *,
        trunk: SipTrunk | None = None,
        transfer_timeout: float = 30.0,
        tap: AudioTap | None = None,
    ):
        """Bind to a live (answered) call; ``tap`` also hears the caller (e.g. AMD)."""
        self.call = call
        self._trunk = trunk
        self._transfer_timeout = transfer_timeout
        self._tap = tap
        self._transport: SipCallTransport | None = None

    def transport(self) -> SipCallTransport:
        """The call's audio as a pipecat transport (caller in at the pipeline's rate)."""
        if self._transport is None:
            self._transport = SipCallTransport(self.call, tap=self._tap)
        return self._transport

    @property
    def far_end_hung_up(self) -> bool:
        """The other party sent BYE (or CANCEL)."""
        return self.call.is_ended and self.call.ended.result().reason in _HUNG_UP

    async def hang_up(self) -> None:
        """BYE, unless the call is already over (never raises)."""
        try:
            await self.call.hangup()
        except Exception as e:
            logger.warning(f"{self.call.id}: hang-up failed: {e}")

    def cannot_transfer(self) -> str | None:
        """A call that ended cannot be moved."""
        return "the SIP call has ended" if self.call.is_ended else None

    async def transfer(self, destination: TransferDestination) -> None:
        """REFER the far end to ``destination`` and wait for the final NOTIFY.

        On success the far end is talking to the target and PJSIP has left the call
        (BYE), which ends our media.

        Raises:
            TransferFailed: The REFER was refused, the target did not answer (busy,
                declined, no answer in time), or the URI is unusable; the call is
                still ours.
        """
        if reason := self.cannot_transfer():
            raise TransferFailed(reason)
        uri = transfer_uri(destination, self._trunk, self.call.request)
        try:
            outcome = await self.call.transfer(uri, timeout=self._transfer_timeout)
        except (ValueError, CallFailed) as e:
            raise TransferFailed(str(e)) from None
        if not outcome.succeeded:
            raise TransferFailed(f"the target answered {outcome.status_code} {outcome.reason}")

    async def send_dtmf(self, digits: str) -> None:
        """Digits as RFC 4733 telephone-events.

        Raises:
            NotSupported: The call has ended.
            ValueError: A character that is not a keypad digit.
        """
        try:
            await self.call.send_dtmf(digits)
        except CallFailed as e:
            raise NotSupported(f"cannot send DTMF: {e}") from None
