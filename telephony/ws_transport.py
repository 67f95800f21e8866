"""A pipecat transport over an aiohttp websocket and a carrier's frame serializer."""

from __future__ import annotations

import asyncio
import time

from aiohttp import WSMsgType, web
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    CancelTaskFrame,
    ClientConnectedFrame,
    EndFrame,
    EndTaskFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_transport import BaseTransport, TransportParams

from telephony.audio_input import DirectAudioInput
from telephony.held_output import HeldItem, HeldOutput
from telephony.sent_audio import MarkNames, SentAudio
from voice.frames import REPLAY_SECS, OutputPlaybackMarkFrame, PlaybackMarkFrame


class WebsocketCallParams(TransportParams):
    """Transport settings for a carrier media websocket.

    Parameters:
        serializer: The carrier's serializer (mu-law <-> PCM, marks, clear...).
        playout_lead_secs: How far ahead of real time audio is sent. The carrier
            buffers what we send; keeping that buffer short makes ``clear`` (barge-in)
            cut the bot off at once and keeps "sent" close to "heard", while the lead
            absorbs network jitter.
        audio_out_10ms_chunks: The bot's audio goes out in 100 ms pieces (pipecat's
            default is 40 ms). pipecat's output hands each piece on through two
            ``asyncio.wait_for`` (on Python 3.11 a task and three turns of the event
            loop each): at 8 calls on 2 cores, 40 ms pieces came slower than they play
            and the caller heard the reply stall.
    """

    serializer: FrameSerializer
    playout_lead_secs: float = 0.4
    audio_out_10ms_chunks: int = 10


class _Socket:
    """The websocket shared by the input and output halves of one call.

    The carrier may move the call's media to a new socket (Twilio, after a live-call
    update): :meth:`expect` before the current one ends, :meth:`moved` once the new
    one is there (or will not come).
    """

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.closing = False
        self._next: asyncio.Future[bool] | None = None

    @property
    def open(self) -> bool:
        return not self.ws.closed and not self.closing

    def expect(self) -> None:
        self._next = asyncio.get_running_loop().create_future()

    def moved(self, ws: web.WebSocketResponse | None) -> None:
        if ws is not None:
            self.ws = ws
        if self._next is not None and not self._next.done():
            self._next.set_result(ws is not None)
        self._next = None

    async def following(self, ended: web.WebSocketResponse) -> bool:
        """After ``ended`` ended: whether the media goes on, on a newer socket (waits for it)."""
        if self.ws is not ended:
            return True
        coming = self._next
        return await asyncio.shield(coming) if coming is not None else False

    async def send(self, payload: str | bytes) -> bool:
        if not self.open:
            return False
        try:
            if isinstance(payload, bytes):
                await self.ws.send_bytes(payload)
            else:
                await self.ws.send_str(payload)
            return True
        except (ConnectionError, RuntimeError) as e:
            logger.debug(f"websocket send failed: {e}")
            return False

    async def close(self) -> None:
        self.moved(None)
        if self.open:
            self.closing = True
            try:
                await asyncio.wait_for(self.ws.close(), timeout=1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                pass


class WebsocketCallInput(DirectAudioInput):
    """Reads carrier messages, turns them into frames and pushes them into the pipeline.

    Text and binary messages alike go to the serializer (the browser sends raw PCM as
    binary; Twilio sends only text). Malformed messages are logged and skipped; the
    call goes on. A serializer that returns ``EndTaskFrame`` (the carrier stopped the
    stream) ends the call gracefully.
    """

    def __init__(
        self,
        transport: WebsocketCallTransport,
        socket: _Socket,
        params: WebsocketCallParams,
        **kwargs,
    ):
        super().__init__(params, **kwargs)
        self._transport = transport
        self._socket = socket
        self._params = params
        self._receive_task: asyncio.Task | None = None

    async def setup(self, setup: FrameProcessorSetup):
        await super().setup(setup)
        await self._params.serializer.setup(setup)

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self._transport.call_event("on_client_connected")
        await self.push_frame(ClientConnectedFrame())
        if not self._receive_task:
            self._receive_task = self.create_task(self._receive())
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame):
        await super().stop(frame)
        await self._stop_receiving()

    async def cancel(self, frame: CancelFrame):
        await super().cancel(frame)
        await self._stop_receiving()

    async def cleanup(self):
        await super().cleanup()
        await self._stop_receiving()

    async def _stop_receiving(self) -> None:
        if self._receive_task:
            await self.cancel_task(self._receive_task)
            self._receive_task = None

    async def _receive(self) -> None:
        ws = self._socket.ws
        while True:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._handle(message.data)
                elif message.type == WSMsgType.ERROR:
                    logger.warning(f"{self}: websocket error: {ws.exception()}")
                    break
            if not await self._socket.following(ws):
                break
            ws = self._socket.ws
        if not self._socket.closing:
            await self._transport.call_event("on_client_disconnected")

    async def _handle(self, data: str | bytes) -> None:
        try:
            frame = await self._params.serializer.deserialize(data)
        except Exception as e:  # one bad message must not end the call
            logger.warning(f"{self}: dropped a malformed message ({e.__class__.__name__}: {e})")
            return
        if frame is None:
            return
        if isinstance(frame, PlaybackMarkFrame):
            mark = self._transport.marks.echoed(frame.mark)
            if mark is not None:
                await self.push_frame(PlaybackMarkFrame(mark=mark))
        elif isinstance(frame, InputAudioRawFrame):
            await self.push_audio_frame(frame)
        elif isinstance(frame, (EndTaskFrame, CancelTaskFrame)):
            await self.push_frame(frame, FrameDirection.UPSTREAM)
        else:
            await self.push_frame(frame)


class WebsocketCallOutput(HeldOutput):
    """Writes audio and carrier messages out, paced at real time plus a small lead.

    A pause (:class:`voice.frames.BotPauseFrame`) clears the carrier's buffer and takes
    back what it had not played, as the pacing clock tells; the marks it held are sent
    again under new names (the carrier echoes the old ones on ``clear``).
    """

    def __init__(
        self,
        transport: WebsocketCallTransport,
        socket: _Socket,
        params: WebsocketCallParams,
        **kwargs,
    ):
        super().__init__(params, **kwargs)
        self._transport = transport
        self._socket = socket
        self._params = params
        self._playout_end = 0.0  # when the carrier will have played everything sent
        self._sent = SentAudio()

    async def setup(self, setup: FrameProcessorSetup):
        await super().setup(setup)
        await self._params.serializer.setup(setup)

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame):
        await super().stop(frame)
        await self._write(frame)
        await self._socket.close()

    async def cancel(self, frame: CancelFrame):
        await super().cancel(frame)
        await self._write(frame)
        await self._socket.close()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self._write(frame)
            self._playout_end = 0.0
            self._sent.forget()  # the carrier dropped it: no later pause may replay it

    async def send_message(
        self, frame: OutputTransportMessageFrame | OutputTransportMessageUrgentFrame
    ):
        await self._write(frame)

    async def write_transport_frame(self, frame: Frame):
        """Frames queued in order with the audio (e.g. playback marks) go to the serializer."""
        if isinstance(frame, OutputPlaybackMarkFrame):
            if await self.admit():
                await self._send_mark(frame)
            return
        await self._write(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        return await self.admit() and await self._send_audio(frame)

    async def take_back(self) -> list[HeldItem]:
        """Clear the carrier's buffer; what it had not played, its marks under their own names."""
        now = time.monotonic()
        held = self._sent.take_back(now, REPLAY_SECS)
        await self._write(InterruptionFrame())  # the carrier's "clear"
        self._playout_end = now
        for n, item in enumerate(held):
            if isinstance(item, OutputPlaybackMarkFrame):
                held[n] = OutputPlaybackMarkFrame(mark=self._transport.marks.own(item.mark))
                self._transport.marks.void(item.mark)
        return held

    async def send_held(self, item: HeldItem) -> None:
        if isinstance(item, OutputPlaybackMarkFrame):
            await self._send_mark(OutputPlaybackMarkFrame(self._transport.marks.again(item.mark)))
        elif item:
            frame = OutputAudioRawFrame(item, sample_rate=self.sample_rate, num_channels=1)
            if await self._send_audio(frame):
                await self.pushed_held(frame)

    async def _send_mark(self, frame: OutputPlaybackMarkFrame) -> None:
        self._sent.mark(max(self._playout_end, time.monotonic()), frame)
        await self._write(frame)

    async def _send_audio(self, frame: OutputAudioRawFrame) -> bool:
        if not self._socket.open:
            return False
        if not await self._write(frame):
            return False
        now = time.monotonic()
        duration = len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        start = max(self._playout_end, now)
        self._sent.audio(start, frame.audio, frame.sample_rate)
        self._playout_end = start + duration
        ahead = self._playout_end - now - self._params.playout_lead_secs
        if ahead > 0:
            await asyncio.sleep(ahead)
        return True

    async def _write(self, frame: Frame) -> bool:
        try:
            payload = await self._params.serializer.serialize(frame)
        except Exception as e:
            logger.error(f"{self}: could not serialize {frame}: {e}")
            return False
        if payload is None:
            return True
        return await self._socket.send(payload)


class WebsocketCallTransport(BaseTransport):
    """One call's media over an aiohttp websocket (already accepted and past its handshake).

    Events:
        on_client_connected(transport): the pipeline started reading the socket.
        on_client_disconnected(transport): the peer closed the socket (not us).
        on_hold_changed(transport, on_hold: bool): never fired (Twilio's media streams and
            the browser cannot hold us); offered so a call wires it whatever its carrier.
    """

    def __init__(self, ws: web.WebSocketResponse, params: WebsocketCallParams):
        """Wrap an open websocket."""
        super().__init__()
        self._socket = _Socket(ws)
        self.marks = MarkNames()
        self._input = WebsocketCallInput(self, self._socket, params, name=self._input_name)
        self._output = WebsocketCallOutput(self, self._socket, params, name=self._output_name)
        self._register_event_handler("on_client_connected")
        self._register_event_handler("on_client_disconnected")
        self._register_event_handler("on_hold_changed")

    def input(self) -> WebsocketCallInput:
        """The half that reads the socket."""
        return self._input

    def output(self) -> WebsocketCallOutput:
        """The half that writes the socket."""
        return self._output

    async def call_event(self, name: str) -> None:
        """Fire one of this transport's events."""
        await self._call_event_handler(name)

    def expect_new_socket(self) -> None:
        """The carrier is moving the media to a new socket: when this one ends, wait for it.

        Until :meth:`use_socket`, the end of the current socket is not the end of the
        call; what is sent meanwhile is dropped (there is no one to hear it).
        """
        self._socket.expect()

    def use_socket(self, ws: web.WebSocketResponse | None) -> None:
        """Go on with the media on ``ws``; None: no new socket is coming (the move was called off).

        With None, the call goes on on the current socket if it is still open, else it
        ends as a disconnect.
        """
        self._socket.moved(ws)
