"""One live call, whatever carrier carries it: its pipeline, its transcript, and how it ends."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from pipecat.frames.frames import EndFrame, LLMRunFrame, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.transports.base_transport import BaseTransport
from pipecat.utils.types import NOT_GIVEN
from pipecat.workers.runner import WorkerRunner

from agent.assistant import announced
from agent.assistant_files import LoadedAssistant
from agent.llm import create_llm
from agent.tools import ToolContext, TransferFailed
from agent.tools.llm_functions import tools_schema
from crm.calls import NewUtterance, OpenedCall
from crm.db import is_outage
from crm.models import Call, utcnow
from telephony.audio_tap import CallAudioTap
from telephony.call_language import CallLanguage
from telephony.call_setup import CallPlan, plan_call
from telephony.carrier import CallLeg
from telephony.conversation import CallConversation, CallFacts
from telephony.dependencies import CallDependencies
from telephony.feed import CallFeed
from telephony.journal import CallJournal
from telephony.recorder import CallRecorder, refusal, start_recording
from voice.languages import DetectedLanguage, SpokenLanguage
from voice.latency import call_latency_summary
from voice.pipeline import CallHooks, CallPipeline, build_call_worker
from voice.playback import BotTurn
from voice.stt import Resumption

# After the line drops, how long queued speech may take to be transcribed and saved.
DRAIN_TIMEOUT_SECS = 10.0
# How long the call's end waits for a database that is away (after the journal's wait).
FINALIZE_WAIT_SECS = 30.0


class CallSession:
    """Runs one call's pipeline from stream start to hang-up, and always finalizes the call.

    Whatever happens inside (a model error, a dropped socket, server shutdown),
    the call row ends with an end time and reason, and every transcript line
    already heard is written. Nothing here touches any other call. The call keeps
    the assistant it started with, whatever reloads happen meanwhile. What is the
    carrier's own (audio transport, hang-up, transfer) comes from its
    :class:`telephony.carrier.CallLeg`; nothing here knows which carrier it is.

    Attributes:
        feed: The call's transcript events, for followers (the console, the Talk page).
        audio: The call's audio, both sides as heard, for listeners (the recorder, listen-in).
    """

    def __init__(
        self,
        deps: CallDependencies,
        call: Call,
        entry: LoadedAssistant,
        leg: CallLeg,
    ):
        """Prepare the session on the carrier's ``leg``; nothing runs until :meth:`run`."""
        self.call_id = call.id
        self.finished = asyncio.Event()
        self._deps = deps
        self._leg = leg
        self.call = call
        self._entry = entry
        self.feed = CallFeed()
        self.audio = CallAudioTap(call.id)
        self.audio.on_input_ended = self._media_ended
        self._recorder: CallRecorder | None = None
        self._recorded = False  # by us or the carrier: the recording notice is said
        self._journal = CallJournal(deps.calls, call.id, self.feed, spool_dir=deps.spool_dir)
        if (opened := deps.offline_calls.pop(call.id, None)) is not None:
            # answered while the database was away: the row comes first, once it is back
            started = OpenedCall(call.id, opened, utcnow(), call.provider_stream_id)
            self._journal.call_opened(started)
        self._latency: list[dict[str, Any]] = []
        self._pending_latency: dict[str, Any] | None = None
        self._end_reason: str | None = None
        self._worker: PipelineWorker | None = None
        self._conversation: CallConversation | None = None
        self._language: CallLanguage | None = None

    async def run(self) -> None:
        """Run the call until it ends, then finalize it (also if cancelled)."""
        try:
            plan = await plan_call(self._deps, self.call, self._entry)
            self._recorder = await start_recording(
                self._deps.recordings,
                self._deps.calls,
                self.call,
                plan.entry.assistant,
                plan.lead,
                self._leg,
                self.audio,
            )
            self._recorded = self._deps.recordings is not None and not refusal(
                plan.entry.assistant, plan.lead
            )
            self._worker = self._build(plan).worker
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
            self._drain_at_most(reason)

    def _media_ended(self) -> None:
        """The caller hung up (or the call began to end): what is queued drains, for a while.

        On a busy machine the caller's last words can wait seconds to be transcribed (and
        answered, for no one); the call is finalized after DRAIN_TIMEOUT_SECS at most.
        """
        self._drain_at_most("caller-hangup")

    def _drain_at_most(self, reason: str) -> None:
        asyncio.get_running_loop().call_later(
            DRAIN_TIMEOUT_SECS, lambda: asyncio.ensure_future(self._cancel(reason))
        )

    async def leave_voicemail(self, message: str | None) -> None:
        """A machine answered (async AMD): cut the bot off, leave ``message`` if any, hang up."""
        if self._conversation is not None:
            await self._conversation.machine_answered(message)
        else:
            await self.end("voicemail")

    async def take_over(self, agent_id: str, transfer_id: str, queue: str | None) -> None:
        """An agent takes the call over: the AI stops and leaves, their phone is bridged in.

        Raises:
            agent.tools.TransferFailed: The call cannot be taken over now (why).
        """
        if self._conversation is None:
            raise TransferFailed("the call has not started yet")
        await self._conversation.take_over(agent_id, transfer_id, queue)

    async def _cancel(self, reason: str) -> None:
        if self._worker and not self._worker.has_finished():
            logger.warning(f"call {self.call_id}: did not drain in time; cancelling")
            await self._worker.cancel(reason=reason)

    def _tool_context(self, plan: CallPlan) -> ToolContext:
        deps, assistant = self._deps, plan.assistant
        tools = (
            {} if deps.llm.uses_embedded(assistant) else plan.entry.tools
        )  # the embedded LLM cannot call tools
        return ToolContext(
            db=deps.database,
            calls=deps.calls,
            assistant=assistant,
            tools=tools,
            call_id=self.call_id,
            lead_id=plan.lead.id if plan.lead else None,
            phone=plan.phone,
            timezone=plan.timezone,
            phrases=plan.phrases,
            stages=deps.stages,
            policy=deps.policy,
            http=deps.http,
            provider=self.call.provider,
            direction=self.call.direction,
            on_tool_start=self._journal.tool_started,
            on_tool_call=self._journal.tool_called,
        )

    def _build(self, plan: CallPlan) -> CallPipeline:
        deps, assistant = self._deps, plan.assistant
        transport = self._leg.transport()
        self.audio.attach(transport)
        tool_context = self._tool_context(plan)
        context = LLMContext(
            messages=plan.history(),
            tools=tools_schema(tool_context) if tool_context.tools else NOT_GIVEN,
        )
        llm = create_llm(
            assistant,
            deps.llm,
            system_prompt=plan.system_prompt,
            retry_line=plan.phrases.llm_retry,
        )
        pipeline = build_call_worker(
            transport=transport,
            llm=llm,
            context=context,
            models=deps.speech,
            speech=plan.speech,
            hooks=CallHooks(
                on_user_said=self._user_said,
                on_bot_turn=self._bot_turn,
                on_latency=self._turn_latency,
                on_user_idle=self._user_idle,
                on_user_turn_started=self._user_turn_started,
                on_language=self._language_heard,
            ),
            observers=[self.audio],
        )
        facts = CallFacts(
            call_id=self.call_id,
            lead_id=tool_context.lead_id,
            assistant=assistant,
            phrases=plan.phrases,
            render=plan.render,
        )
        self._conversation = CallConversation(
            facts, pipeline.speaker, self._leg, deps.database, deps.desk
        )
        tool_context.control = self._conversation
        self._language = CallLanguage(deps, plan, [tool_context, facts], llm)
        self._language.start()
        self._wire(transport, pipeline.worker, llm, plan)
        return pipeline

    def _wire(
        self, transport: BaseTransport, worker: PipelineWorker, llm: Any, plan: CallPlan
    ) -> None:
        conversation = self._conversation
        assert conversation is not None

        @transport.event_handler("on_client_connected")
        async def _connected(_transport):
            conversation.start()
            await self._greet(worker, plan)

        @transport.event_handler("on_client_disconnected")
        async def _disconnected(_transport):
            if self._leg.far_end_hung_up:
                return  # the carrier's hang-up already ended the call
            self._end_reason = self._end_reason or "disconnected"
            await self.end("disconnected")

        @transport.event_handler("on_hold_changed")
        async def _held(_transport, on_hold: bool):
            await conversation.far_end_holds(on_hold)

        @worker.event_handler("on_idle_timeout")
        async def _idle(_worker):
            self._end_reason = self._end_reason or "idle-timeout"

        @llm.event_handler("on_llm_failure")
        async def _llm_failed(_llm, error):
            await conversation.llm_failed(error)

    async def _greet(self, worker: PipelineWorker, plan: CallPlan) -> None:
        assistant = plan.assistant
        mode = assistant.first_message_mode
        first_message = plan.render(assistant.first_message)
        notice = plan.render(assistant.recording_notice) if self._recorded else ""
        if mode == "assistant-speaks-first" and (first_message or notice):
            await worker.queue_frame(TTSSpeakFrame(announced(first_message, notice)))
        elif mode == "assistant-speaks-first-with-model-generated-message":
            if notice:
                await worker.queue_frame(TTSSpeakFrame(notice))
            await worker.queue_frame(LLMRunFrame())
        else:  # the caller speaks first, after the notice if there is one
            if notice:
                await worker.queue_frame(TTSSpeakFrame(notice))
            if self._conversation:
                self._conversation.wait_for_first_words()

    async def _user_said(
        self,
        text: str,
        started_at: datetime,
        ended_at: datetime,
        *,
        resumed: Resumption | None = None,
    ) -> None:
        line = NewUtterance(role="user", text=text, started_at=started_at, ended_at=ended_at)
        self._journal.add(line, resumed=resumed)

    async def _language_heard(self, detected: DetectedLanguage) -> SpokenLanguage | None:
        return await self._language.heard(detected) if self._language else None

    async def _user_idle(self) -> None:
        if self._conversation:
            await self._conversation.user_idle()

    async def _user_turn_started(self) -> None:
        if self._conversation:
            await self._conversation.user_turn_started()

    async def _bot_turn(self, turn: BotTurn) -> None:
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
        if self._conversation:
            await self._conversation.bot_turn(turn)

    async def _turn_latency(self, latency: dict[str, Any]) -> None:
        self._latency.append(latency)
        self._pending_latency = latency

    def _final_reason(self) -> str:
        if self._conversation and self._conversation.end_reason:
            return self._conversation.end_reason
        if self._end_reason:
            return self._end_reason
        return "caller-hangup" if self._leg.far_end_hung_up else "assistant-hangup"

    async def _finalize(self) -> None:
        try:
            if self._conversation:
                await self._conversation.stop()
            if self._language:
                await self._language.settled()
            await self._journal.close()
            if self._recorder:
                await self._recorder.finish(self._deps.calls, self.audio.input_ended_at)
            await self._store_end()
            ended = self.audio.input_ended_at
            after = (
                f", finalized {time.monotonic() - ended:.1f}s after its media ended"
                if ended
                else ""
            )
            logger.info(
                f"call {self.call_id}: ended ({self._final_reason()}), "
                f"{self._journal.written} lines{after}"
            )
            self._deps.call_ended(self.call_id)
        except Exception as e:
            logger.exception(f"call {self.call_id}: could not finalize: {e}")
        finally:
            self.feed.end(self._final_reason())
            self.audio.close()
            await self._hang_up()
            self.finished.set()

    async def _store_end(self) -> None:
        """Write the call's end, waiting out a database outage for up to FINALIZE_WAIT_SECS.

        Beyond that the call is left to :class:`telephony.orphans.CallLeases` (its lease
        lapses once it is no longer live here).
        """
        deadline = time.monotonic() + FINALIZE_WAIT_SECS
        while True:
            try:
                await self._deps.calls.finalize(
                    self.call_id,
                    end_reason=self._final_reason(),
                    latency=call_latency_summary(self._latency) | {"per_turn": self._latency},
                    ended_at=self._media_ended_at(),
                )
                return
            except Exception as e:
                if not is_outage(e) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)

    def _media_ended_at(self) -> datetime | None:
        """When the caller's audio stopped (the drain after it is not part of the call)."""
        ended = self.audio.input_ended_at
        return None if ended is None else utcnow() - timedelta(seconds=time.monotonic() - ended)

    async def _hang_up(self) -> None:
        try:
            await self._leg.hang_up()
        except Exception as e:
            logger.warning(f"call {self.call_id}: the carrier's hang-up failed: {e}")
