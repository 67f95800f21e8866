"""A user aggregator, the call's real LLM service (on the fake LLM) and a tool: a turn, answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    FunctionCallResultProperties,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMTextFrame,
    STTMetadataFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner

from agent.assistant import Assistant
from agent.llm import LLMEndpoint, create_llm
from tests.fakes.openai_server import FakeOpenAI, ToolCall
from voice.speculation import SpeculativeUserTurnStopStrategy
from voice.stt import SpeechSegment

RATE = 16000
PAUSE_SECS = 0.6  # smart-turn's longest wait, scaled down for the test
BOOKING = ToolCall("book_appointment", {"start": "2026-03-03T10:00"})


class HearsEveryPauseMidSentence(BaseSmartTurn):
    """Smart-turn that judges every pause incomplete: the turn ends on its silence timeout."""

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
        return {"prediction": 0, "probability": 0.1}


class HearsEveryPauseAsTheEnd(BaseSmartTurn):
    """Smart-turn that judges every pause complete (as it heard espeak's "I would like to")."""

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
        return {"prediction": 1, "probability": 0.9}


class _Sink(FrameProcessor):
    def __init__(self, seen: list[Frame]):
        super().__init__()
        self._seen = seen

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        self._seen.append(frame)
        await self.push_frame(frame, direction)


class Call:
    """A caller's side of the turn-taking: speech and silence into the user aggregator."""

    def __init__(
        self, worker: PipelineWorker, seen: list[Frame], asked: list[Frame], context: LLMContext
    ):
        self._worker = worker
        self.seen = seen  # what the LLM service let out
        self.asked = asked  # what the user aggregator sent the LLM service
        self.context = context

    async def _audio(self, secs: float) -> None:
        chunk = bytes(RATE // 50 * 2)
        for _ in range(int(secs * 50)):
            await self._worker.queue_frame(InputAudioRawFrame(chunk, RATE, 1))
            await asyncio.sleep(0.02)

    async def says(self, text: str, secs: float = 0.6) -> None:
        """Speech (VAD), its final transcription after the VAD stop."""
        await self._worker.queue_frame(VADUserStartedSpeakingFrame(start_secs=0.15))
        await self._audio(secs)
        await self._worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        await asyncio.sleep(0.05)
        transcript = TranscriptionFrame(text, "caller", time_now_iso8601(), finalized=True)
        await self._worker.queue_frame(transcript)

    async def speech(self, secs: float) -> None:
        """Speech as VAD reports it, without a transcription yet."""
        await self._worker.queue_frame(VADUserStartedSpeakingFrame(start_secs=0.15))
        await self._audio(secs)
        await self._worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))

    async def transcribed(self, text: str, *, ended: float) -> None:
        """A final transcription of speech that ended at ``ended`` (wall time)."""
        at = datetime.fromtimestamp(ended, UTC)
        segment = SpeechSegment(started_at=at, ended_at=at, audio_secs=0.5)
        await self._worker.queue_frame(
            TranscriptionFrame(text, "caller", time_now_iso8601(), result=segment, finalized=True)
        )

    async def pauses(self, secs: float) -> None:
        await self._audio(secs)

    def replies(self) -> str:
        return "".join(f.text for f in self.seen if isinstance(f, LLMTextFrame))

    def turn_ends(self) -> int:
        return sum(isinstance(f, UserStoppedSpeakingFrame) for f in self.seen)

    def user_lines(self) -> list[str]:
        return [m["content"] for m in self.context.get_messages() if m.get("role") == "user"]

    def runs(self) -> list[bool]:
        """Each LLM run the turn-taking asked for: True when it answered ahead."""
        return [f.speculation for f in self.asked if isinstance(f, LLMContextFrame)]


@asynccontextmanager
async def call(
    llm: FakeOpenAI, tool_runs: list[dict], *, trust_words: bool = True, hears_ends: bool = False
) -> AsyncIterator[Call]:
    """A call whose smart-turn hears every pause as mid-sentence (``hears_ends``: as the end).

    Its one tool, ``book_appointment``, appends its arguments to ``tool_runs``.
    """

    async def book(params: FunctionCallParams) -> None:
        tool_runs.append(dict(params.arguments))
        await params.result_callback("booked", properties=FunctionCallResultProperties())

    schema = FunctionSchema(
        "book_appointment", "Book", {"start": {"type": "string"}}, ["start"], handler=book
    )
    context = LLMContext(tools=ToolsSchema([schema]))
    analyzer = HearsEveryPauseAsTheEnd if hears_ends else HearsEveryPauseMidSentence
    strategies = UserTurnStrategies(
        start=[VADUserTurnStartStrategy()],
        stop=[
            SpeculativeUserTurnStopStrategy(
                trust_words=trust_words,
                words_pause_secs=PAUSE_SECS,
                turn_analyzer=analyzer(params=SmartTurnParams(stop_secs=PAUSE_SECS)),
            )
        ],
    )
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    assistant = Assistant.model_validate({"name": "t", "model": {"messages": []}})
    service = create_llm(
        assistant, LLMEndpoint(base_url=llm.url, api_key="test", model="fake", timeout_secs=5)
    )
    seen: list[Frame] = []
    asked: list[Frame] = []
    worker = PipelineWorker(
        Pipeline([aggregators.user(), _Sink(asked), service, _Sink(seen), aggregators.assistant()]),
        params=PipelineParams(audio_in_sample_rate=RATE),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0.2)
    # What the call's STT tells the turn-taking when it starts: its final transcripts'
    # p99 latency (voice.pipeline), the safety net for a transcript that never comes.
    await worker.queue_frame(STTMetadataFrame(service_name="stt", ttfs_p99_latency=2.0))
    try:
        yield Call(worker, seen, asked, context)
    finally:
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(task, 10)
