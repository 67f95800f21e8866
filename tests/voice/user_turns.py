"""A user aggregator on its own, fed turn-taking frames as a call feeds them, frame by frame."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner


class AlwaysDone(BaseTurnAnalyzer):
    """A turn model that hears every pause as the end of the turn (smart-turn's worst case)."""

    @property
    def speech_triggered(self) -> bool:
        return False

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self):
        return EndOfTurnState.COMPLETE, None

    def clear(self):
        pass


class _Sink(FrameProcessor):
    def __init__(self, seen: list[tuple[float, Frame]]):
        super().__init__()
        self._seen = seen

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        self._seen.append((asyncio.get_running_loop().time(), frame))
        await self.push_frame(frame, direction)


class UserTurns:
    """Sends frames into a running user aggregator and tells what came out of it."""

    def __init__(self, worker: PipelineWorker, seen: list[tuple[float, Frame]]):
        self._worker = worker
        self._seen = seen

    async def send(self, frame: Frame, direction=FrameDirection.DOWNSTREAM) -> None:
        await self._worker.queue_frame(frame, direction)
        await asyncio.sleep(0.02)

    async def send_together(self, *frames: Frame) -> None:
        """Frames that arrive at once (a busy aggregator hands them over together)."""
        for frame in frames:
            await self._worker.queue_frame(frame)
        await asyncio.sleep(0.02)

    async def speech(self, secs: float, text: str | None) -> None:
        """The caller speaks for ``secs`` (as VAD reports it) and is transcribed as ``text``."""
        await self.send(VADUserStartedSpeakingFrame(start_secs=0.15))
        await asyncio.sleep(max(0.0, secs - 0.15))
        await self.send(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        if text:
            await self.send(TranscriptionFrame(text, "caller", time_now_iso8601(), finalized=True))

    def times(self, kind: type[Frame]) -> list[float]:
        return [t for t, f in self._seen if isinstance(f, kind)]

    @property
    def interruptions(self) -> int:
        return len(self.times(InterruptionFrame))

    def llm_runs(self) -> list[LLMContext]:
        return [f.context for _, f in self._seen if isinstance(f, LLMContextFrame)]


@asynccontextmanager
async def user_turns(
    strategies: UserTurnStrategies, context: LLMContext | None = None
) -> AsyncIterator[UserTurns]:
    seen: list[tuple[float, Frame]] = []
    aggregator = LLMUserAggregator(
        context or LLMContext(), params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    worker = PipelineWorker(
        Pipeline([aggregator, _Sink(seen)]),
        params=PipelineParams(),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker, _frame):
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 5)
    try:
        yield UserTurns(worker, seen)
    finally:
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(task, 10)
