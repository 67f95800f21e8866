"""A call's media streams: the TwiML that opens one, and the next one a live call waits for."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field

from aiohttp import web
from twilio.twiml.voice_response import Connect

from crm.secret_compare import secret_bytes


def stream_token(secret: str, call_id: str) -> str:
    """The token that ties a media stream to the call our webhook opened."""
    return hmac.new(secret.encode(), secret_bytes(call_id), hashlib.sha256).hexdigest()[:32]


def connect_stream(stream_url: str, secret: str, call_id: str) -> Connect:
    """``<Connect><Stream>`` to our socket, tied to the call by ``callId`` and its signed token.

    Every stream of a call carries the same two parameters: its first one (from the
    voice webhook) and the ones that carry it on after a live-call update.
    """
    connect = Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="callId", value=call_id)
    stream.parameter(name="token", value=stream_token(secret, call_id))
    return connect


@dataclass
class MediaStream:
    """One Media Streams socket of a call.

    Parameters:
        ws: The socket.
        stream_sid: Twilio's id of the stream (the ``streamSid`` of its messages).
        released: Set once the call no longer uses the socket; the route that
            accepted it returns then (which ends the socket).
    """

    ws: web.WebSocketResponse
    stream_sid: str
    released: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHandovers:
    """Live calls waiting for Twilio to open their next media stream, by call id.

    Updating a live call with new TwiML (``<Play digits>`` then ``<Connect><Stream>``)
    stops its stream; Twilio then runs the TwiML and opens a new stream for the same
    call. The call's leg :meth:`expect`\\ s it before the update, and the media route
    hands the new socket over with :meth:`arrive` instead of starting a second session.
    """

    def __init__(self) -> None:
        """No call waits yet."""
        self._waiting: dict[str, asyncio.Future[MediaStream]] = {}

    def expect(self, call_id: str) -> asyncio.Future[MediaStream]:
        """The next stream of ``call_id``, once it arrives."""
        self.forget(call_id)
        self._waiting[call_id] = asyncio.get_running_loop().create_future()
        return self._waiting[call_id]

    def forget(self, call_id: str) -> None:
        """The call no longer waits (the update failed, or the stream did not come)."""
        waiting = self._waiting.pop(call_id, None)
        if waiting is not None and not waiting.done():
            waiting.cancel()

    def arrive(self, call_id: str, stream: MediaStream) -> bool:
        """Hand a new stream to the call waiting for it; False when none waits."""
        waiting = self._waiting.pop(call_id, None)
        if waiting is None or waiting.done():
            return False
        waiting.set_result(stream)
        return True
