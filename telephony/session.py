"""One live call: its pipeline, its transcript, and how it ends."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web
from loguru import logger
from pipecat.frames.frames import EndFrame, InterruptionFrame, LLMRunFrame, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.workers.runner import WorkerRunner

from agent.assistant import Assistant
from agent.llm import create_llm
from crm.calls import NewUtterance
from crm.models import Call
from telephony.journal import CallJournal
from telephony.services import CallServices
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.ws_transport import WebsocketCallParams, WebsocketCallTransport
from voice.latency import call_latency_summary
from voice.pipeline import CallHooks, CallSpeech, build_call_worker
from voice.playback import BotTurn

# After the line drops, how long queued speech may take to be transcribed and saved.
DRAIN_TIMEOUT_SECS = 10.0


class CallSession:
    """Runs one call's pipeline from stream start to hang-up, and always finalizes the call.

    Whatever happens inside (a model error, a dropped socket, server shutdown),
    the call row ends with an end time and reason, and every transcript line
    already heard is written. Nothing here touches any other call.
    """

    def __init__(
        self,
        services: CallServices,
        call: Call,
        assistant: Assistant,
        ws: web.WebSocketResponse,
        serializer: TwilioMediaSerializer,
    ):
        """Prepare the session; nothing runs until :meth:`run`."""
        self.call_id = call.id
        self.finished = asyncio.Event()
        self._services = services
        self._assistant = assistant
        self._ws = ws
        self._serializer = serializer
        self._journal = CallJournal(services.calls, call.id)
        self._latency: list[dict[str, Any]] = []
        self._pending_latency: dict[str, Any] | None = None
        self._end_reason: str | None = None
        self._worker: PipelineWorker | None = None
        self._last_words: str | None = None  # hang up once the caller has heard this

    async def run(self) -> None:
        """Run the call until it ends, then finalize it (also if cancelled)."""
        try:
            self._worker = self._build()
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(self._worker)
            await runner.run()
        except asyncio.CancelledError:
            self._end_reason = self._end_reason or "server-shutdown"
            raise
        except Exception as e:
            logger.exception(f"call {self.call_id}: pipeline failed: {e}")
            self._end_reason = self._end_reason or "error"
        finally:
            await asyncio.shield(self._finalize())

    async def end(self, reason: str) -> None:
        """End the call from our side (e.g. server shutdown): drain, then hang up."""
        self._end_reason = self._end_reason or reason
        if self._worker and not self._worker.has_finished():
            await self._worker.queue_frame(EndFrame(reason=reason))
            asyncio.get_running_loop().call_later(
                DRAIN_TIMEOUT_SECS, lambda: asyncio.ensure_future(self._cancel(reason))
            )

    async def leave_voicemail(self, message: str | None) -> None:
        """A machine answered: cut the bot off, say ``message`` (if any), then hang up."""
        self._end_reason = "voicemail"
        if self._worker is None or self._worker.has_finished():
            return
        if not message:
            await self.end("voicemail")
            return
        self._last_words = message
        await self._worker.queue_frames([InterruptionFrame(), TTSSpeakFrame(message, append_to_context=False)])

    async def _cancel(self, reason: str) -> None:
        if self._worker and not self._worker.has_finished():
            logger.warning(f"call {self.call_id}: did not drain in time; cancelling")
            await self._worker.cancel(reason=reason)

    def _build(self) -> PipelineWorker:
        services, assistant = self._services, self._assistant
        transport = WebsocketCallTransport(
            self._ws,
            WebsocketCallParams(
                serializer=self._serializer,
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_out_end_silence_secs=0,
            ),
        )
        context = LLMContext()
        worker = build_call_worker(
            transport=transport,
            llm=create_llm(assistant, services.llm),
            context=context,
            models=services.speech,
            speech=CallSpeech(language=assistant.transcriber.language, speed=assistant.voice.speed),
            hooks=CallHooks(
                on_user_said=self._user_said, on_bot_turn=self._bot_turn, on_latency=self._turn_latency
            ),
        )

        @transport.event_handler("on_client_connected")
        async def _connected(_transport):
            await self._greet(worker, context)

        @transport.event_handler("on_client_disconnected")
        async def _disconnected(_transport):
            if self._serializer.stopped:
                return  # the stop event already ended the call
            self._end_reason = self._end_reason or "disconnected"
            await self.end("disconnected")

        @worker.event_handler("on_idle_timeout")
        async def _idle(_worker):
            self._end_reason = self._end_reason or "idle-timeout"

        return worker

    async def _greet(self, worker: PipelineWorker, context: LLMContext) -> None:
        mode = self._assistant.first_message_mode
        if mode == "assistant-speaks-first" and self._assistant.first_message:
            await worker.queue_frame(TTSSpeakFrame(self._assistant.first_message))
        elif mode == "assistant-speaks-first-with-model-generated-message":
            await worker.queue_frame(LLMRunFrame())

    async def _user_said(self, text: str, started_at: datetime, ended_at: datetime) -> None:
        self._journal.add(NewUtterance(role="user", text=text, started_at=started_at, ended_at=ended_at))

    async def _bot_turn(self, turn: BotTurn) -> None:
        if self._last_words is not None and turn.spoken_text.split() == self._last_words.split():
            await self.end(self._end_reason or "assistant-hangup")
        latency, self._pending_latency = self._pending_latency, None
        self._journal.add(
            NewUtterance(
                role="assistant",
                text=turn.text,
                started_at=turn.started_at,
                ended_at=turn.ended_at,
                interrupted=turn.interrupted,
                latency=latency,
            )
        )

    async def _turn_latency(self, latency: dict[str, Any]) -> None:
        self._latency.append(latency)
        self._pending_latency = latency

    def _final_reason(self) -> str:
        if self._end_reason:
            return self._end_reason
        return "caller-hangup" if self._serializer.stopped else "assistant-hangup"

    async def _finalize(self) -> None:
        try:
            await self._journal.close()
            await self._services.calls.finalize(
                self.call_id,
                end_reason=self._final_reason(),
                latency=call_latency_summary(self._latency) | {"per_turn": self._latency},
            )
            logger.info(f"call {self.call_id}: ended ({self._final_reason()}), {self._journal.written} lines")
            self._services.call_ended(self.call_id)
        except Exception as e:
            logger.exception(f"call {self.call_id}: could not finalize: {e}")
        finally:
            self.finished.set()
