"""A real Twilio media stream for transport tests: our websocket transport on a pipeline,
and the call simulator as Twilio's side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer
from pipecat.frames.frames import EndFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from telephony.simulator import CallSimulator
from telephony.simulator.call import TICK
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.ws_transport import WebsocketCallParams, WebsocketCallTransport
from voice.playback import BotTurn, PlaybackTracker

RATE = 8000


@dataclass
class Stream:
    """The server's half (a pipeline on our transport) and Twilio's (the call simulator)."""

    worker: PipelineWorker
    call: CallSimulator
    turns: list[BotTurn] = field(default_factory=list)

    @property
    def heard_secs(self) -> float:
        return self.call._playback.speech_frames * TICK

    async def until_heard(self, secs: float) -> None:
        while self.heard_secs < secs:
            await asyncio.sleep(TICK)


@asynccontextmanager
async def twilio_stream(*before: FrameProcessor) -> AsyncIterator[Stream]:
    """Our websocket transport with the Twilio serializer, a tracker, and a fake Twilio caller;
    ``before``: processors between the transport's input and the tracker."""
    ready: asyncio.Future[Stream] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()
    call = CallSimulator("http://127.0.0.1")

    async def media(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        params = WebsocketCallParams(
            serializer=TwilioMediaSerializer(call.stream_sid),
            audio_in_enabled=True,
            audio_out_enabled=True,
        )
        transport = WebsocketCallTransport(ws, params)
        tracker = PlaybackTracker()
        worker = PipelineWorker(
            Pipeline([transport.input(), *before, tracker, transport.output()]),
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=RATE),
            cancel_on_idle_timeout=False,
            enable_rtvi=False,
        )
        stream = Stream(worker, call)

        @tracker.event_handler("on_bot_turn")
        async def on_turn(_tracker, turn: BotTurn):
            stream.turns.append(turn)

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        running = asyncio.create_task(runner.run())
        ready.set_result(stream)
        await done.wait()
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, 10)
        return ws

    app = web.Application()
    app.router.add_get("/media", media)
    async with TestServer(app, host="127.0.0.1") as server:
        url = f"ws://127.0.0.1:{server.port}/media"
        await call.connect(f'<Response><Connect><Stream url="{url}"/></Connect></Response>')
        stream = await asyncio.wait_for(ready, 10)
        try:
            yield stream
        finally:
            done.set()
            await asyncio.sleep(0.3)
            await call.hang_up()
