"""An input transport that hands the caller's audio on as it reads it."""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame
from pipecat.transports.base_input import BaseInputTransport


class DirectAudioInput(BaseInputTransport):
    """pipecat's input transport, minus the queue and task between reading audio and pushing it.

    pipecat queues each caller frame for a task of the transport's own that takes it
    with ``asyncio.wait_for``; on Python 3.11 that makes a task and costs three turns
    of the event loop per frame. At 8 calls on 2 cores a turn took ~10 ms, so each
    call's task moved fewer frames than the caller sent: the audio reached the VAD
    2-4 s late (a barge-in stopped the bot seconds after the caller spoke). Here the
    task that reads the carrier pushes each frame on itself, in order.
    """

    async def push_audio_frame(self, frame: InputAudioRawFrame):
        """Filter the frame (if the transport has a filter) and push it downstream now."""
        if not self._params.audio_in_enabled or self._paused:
            return
        if self._params.audio_in_filter:
            frame.audio = await self._params.audio_in_filter.filter(frame.audio)
            if not frame.audio:
                return
        if self._params.audio_in_passthrough:
            await self.push_frame(frame)
