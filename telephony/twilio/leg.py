"""A call Twilio carries: Media Streams audio on our websocket, REST for transfers."""

from __future__ import annotations

from aiohttp import web

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.carrier import CallLeg, NotSupported
from telephony.twilio.rest import TwilioRest, TwilioRestError, dial_twiml
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.ws_transport import WebsocketCallParams, WebsocketCallTransport


class TwilioLeg(CallLeg):
    """:class:`telephony.carrier.CallLeg` for Twilio Media Streams."""

    provider = "twilio"

    def __init__(
        self,
        ws: web.WebSocketResponse,
        serializer: TwilioMediaSerializer,
        rest: TwilioRest,
        call_sid: str | None,
    ):
        """Bind to one call's media socket (past its ``start``) and its Twilio call."""
        self._ws = ws
        self._serializer = serializer
        self._rest = rest
        self._call_sid = call_sid
        self._transport: WebsocketCallTransport | None = None

    def transport(self) -> WebsocketCallTransport:
        """mu-law 8 kHz over the socket, paced to real time, with playback marks."""
        if self._transport is None:
            self._transport = WebsocketCallTransport(
                self._ws,
                WebsocketCallParams(
                    serializer=self._serializer,
                    audio_in_enabled=True,
                    audio_out_enabled=True,
                    audio_out_end_silence_secs=0,
                ),
            )
        return self._transport

    @property
    def far_end_hung_up(self) -> bool:
        """Twilio sent ``stop`` (after a transfer too: the conversation's reason wins then)."""
        return self._serializer.stopped

    async def hang_up(self) -> None:
        """Close our socket: that ends ``<Connect>``, and so the call."""
        if not self._ws.closed:
            await self._ws.close()

    def cannot_transfer(self) -> str | None:
        """Transfers need the REST credentials and the call's SID."""
        if not self._rest.configured or not self._call_sid:
            return "Twilio REST is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
        return None

    async def transfer(self, destination: TransferDestination) -> None:
        """Update the live call with ``<Dial>`` TwiML; Twilio then stops our stream.

        Raises:
            TransferFailed: Twilio refused, or could not be reached.
        """
        if reason := self.cannot_transfer():
            raise TransferFailed(reason)
        assert self._call_sid is not None
        try:
            await self._rest.update_twiml(self._call_sid, dial_twiml(destination))
        except TwilioRestError as e:
            raise TransferFailed(str(e)) from None

    async def send_dtmf(self, digits: str) -> None:
        """Not on a live stream: new TwiML (``<Play digits>``) would end the stream.

        Raises:
            NotSupported: Always, for now.
        """
        raise NotSupported("Twilio Media Streams cannot send DTMF into a live stream")
