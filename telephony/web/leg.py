"""A call the browser carries: the Talk websocket, raw PCM, marks and clear."""

from __future__ import annotations

from aiohttp import web

from telephony.carrier import CallLeg
from telephony.web.serializer import BrowserAudioSerializer
from telephony.ws_transport import WebsocketCallParams, WebsocketCallTransport


class BrowserLeg(CallLeg):
    """:class:`telephony.carrier.CallLeg` for a person talking from the dashboard (or a terminal).

    No transfer, no keypad, no recording of its own (the call is recorded from the
    pipeline like any other).
    """

    provider = "web"

    def __init__(self, ws: web.WebSocketResponse, serializer: BrowserAudioSerializer):
        """Bind to one Talk socket (already accepted)."""
        self._ws = ws
        self._serializer = serializer
        self._transport: WebsocketCallTransport | None = None

    def transport(self) -> WebsocketCallTransport:
        """PCM over the socket, paced to real time plus the page's small buffer, with marks."""
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
        """The page sent ``hangup``."""
        return self._serializer.stopped

    async def hang_up(self) -> None:
        """Close the socket: the page shows the call ended."""
        if not self._ws.closed:
            await self._ws.close(code=1000, message=b"call ended")
