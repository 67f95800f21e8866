"""The call's worker: its observers are told what they listen for, and only that."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import EndFrame, Frame, TextFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from voice.worker import CallWorker


class _Pass(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class _Pushes(BaseObserver):
    """Every push of a text frame, or only those from ``source`` if it is given."""

    def __init__(self, source: FrameProcessor | None = None):
        super().__init__()
        self.source = source
        self.pushes: list[FramePushed] = []

    async def on_push_frame(self, data: FramePushed):
        if isinstance(data.frame, TextFrame):
            self.pushes.append(data)


class _FromOne(_Pushes):
    def wants_push(self, data: FramePushed) -> bool:
        return data.source is self.source


class _Processing(BaseObserver):
    def __init__(self):
        super().__init__()
        self.processed: list[FrameProcessed] = []

    async def on_process_frame(self, data: FrameProcessed):
        if isinstance(data.frame, TextFrame):
            self.processed.append(data)


async def test_observers_hear_what_they_listen_for_and_nothing_they_said_no_to():
    first, second, third = _Pass(), _Pass(), _Pass()
    every, from_second, processing = _Pushes(), _FromOne(second), _Processing()
    worker = CallWorker(
        Pipeline([first, second, third]),
        params=PipelineParams(),
        observers=[every, from_second, processing],
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await worker.queue_frame(TextFrame("hello"))
    await asyncio.sleep(0.3)
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(running, 10)

    hops = [(d.source, d.destination) for d in every.pushes]
    assert (first, second) in hops and (second, third) in hops  # every push, as pipecat's
    assert [d.source for d in from_second.pushes] == [second]  # only what it wants
    # An observer that reads processed frames still gets them, from each processor.
    assert {first, second, third} <= {d.processor for d in processing.processed}
