"""The call's pipecat worker, with observers told only what they listen for."""

from __future__ import annotations

from functools import cache

from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.worker import PipelineWorker
from pipecat.pipeline.worker_observer import WorkerObserver


@cache
def _observes_processing(kind: type[BaseObserver]) -> bool:
    return kind.on_process_frame is not BaseObserver.on_process_frame


class SparseWorkerObserver(WorkerObserver):
    """pipecat's proxy to a pipeline's observers, minus the events an observer ignores.

    pipecat hands every observer every frame each processor handles (``FrameProcessed``)
    and, to those that ask, every push between two processors, through a queue and a
    task of the observer's own. Per caller frame that was ~35 queue puts and task
    wake-ups on the event loop (6 hops, 5 observers), and none of the call's observers
    reads ``FrameProcessed``. Here an observer gets ``FrameProcessed`` only if it
    overrides ``on_process_frame``, and an observer with a ``wants_push(data)`` method
    only the pushes it says yes to (it is asked on the event loop, before queueing,
    and must be quick).
    """

    async def on_process_frame(self, data: FrameProcessed):
        """Queue a processed frame for the observers that read them."""
        if not self._proxies:
            return
        for proxy in self._proxies.values():
            if _observes_processing(type(proxy.observer)):
                await proxy.queue.put(data)

    async def on_push_frame(self, data: FramePushed):
        """Queue a push for the observers that want it (see the class)."""
        if not self._proxies:
            return
        frame = data.frame
        data.first_push = frame.id not in self._frames_pushed
        if data.first_push:
            self._frames_pushed[frame.id] = frame
        for proxy in self._proxies.values():
            observer = proxy.observer
            if not (data.first_push or observer.observe_every_push):
                continue
            wants = getattr(observer, "wants_push", None)
            if wants is None or wants(data):
                await proxy.queue.put(data)


class CallWorker(PipelineWorker):
    """A ``PipelineWorker`` whose observers hear through :class:`SparseWorkerObserver`."""

    def __init__(self, *args, **kwargs):
        """Create the worker as pipecat's (same arguments)."""
        super().__init__(*args, **kwargs)
        self._observer = SparseWorkerObserver(observers=self._observer._observers)
