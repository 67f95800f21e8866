"""Pausing a call's bot audio at the caller's first sound, and playing it on after a backchannel."""

from __future__ import annotations

import asyncio
from abc import abstractmethod

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_output import BaseOutputTransport

from voice.frames import BotPauseFrame, BotResumeFrame, OutputPlaybackMarkFrame

# A pause no one resolves (the caller was put on hold mid-pause) plays on after this;
# below pipecat's write timeout (``audio_out_write_timeout_secs``, 10 s).
MAX_PAUSE_SECS = 6.0

# What a pause takes back from the carrier: audio (PCM at the transport's rate) and the
# marks between it, in playout order.
HeldItem = bytes | OutputPlaybackMarkFrame


class HeldOutput(BaseOutputTransport):
    """An output transport that can hold the bot's audio (see :class:`BotPauseFrame`).

    On :class:`BotPauseFrame` the carrier stops playing at once (:meth:`take_back`
    empties its buffer and returns what was not heard, from ``REPLAY_SECS`` before
    the pause point) and the writer waits. :class:`BotResumeFrame` sends the held
    audio and marks again (:meth:`send_held`), then lets the writer go on with the
    rest of the reply; an ``InterruptionFrame`` drops them and what the writer held.
    Subclasses call :meth:`admit` before writing audio or a mark.
    """

    def __init__(self, *args, **kwargs):
        """Create the output, playing."""
        super().__init__(*args, **kwargs)
        self._gate: asyncio.Future[bool] | None = None
        self._held: list[HeldItem] = []
        self._replay: asyncio.Task | None = None
        self._pause_limit: asyncio.Task | None = None

    @property
    def paused(self) -> bool:
        """Whether the bot's audio is held."""
        return self._gate is not None

    @abstractmethod
    async def take_back(self) -> list[HeldItem]:
        """Stop the carrier playing now; what it had not played yet, with a little before it."""

    @abstractmethod
    async def send_held(self, item: HeldItem) -> None:
        """Send one held piece of audio (paced, like any audio) or mark again."""

    async def admit(self) -> bool:
        """Wait while paused; False: the pause became an interruption, drop what you hold."""
        gate = self._gate
        return True if gate is None else await asyncio.shield(gate)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Pause, resume or drop the held audio; everything else is the base transport's."""
        if isinstance(frame, BotPauseFrame):
            await self._pause()
        elif isinstance(frame, BotResumeFrame):
            self._resume()
        elif isinstance(frame, EndFrame):
            self._resume()  # what was held plays out before the end
        await super().process_frame(frame, direction)
        if isinstance(frame, (InterruptionFrame, CancelFrame)):
            await self._drop()

    async def pushed_held(self, frame: OutputAudioRawFrame) -> None:
        """Held audio sent again goes downstream like any written audio (the recording hears it)."""
        await self.push_frame(frame)

    async def _pause(self) -> None:
        if self.paused:
            return
        self._gate = asyncio.get_running_loop().create_future()
        self._held = await self.take_back()
        logger.debug(f"{self}: paused, holding {len(self._held)} pieces")
        self._pause_limit = self.create_task(self._limit_pause(), f"{self}::pause-limit")

    def _resume(self) -> None:
        if self.paused and self._replay is None:
            logger.debug(f"{self}: resuming")
            self._replay = self.create_task(self._play_held(), f"{self}::replay")

    async def _play_held(self) -> None:
        held, self._held = self._held, []
        for item in held:
            await self.send_held(item)
        self._replay = None
        await self._open(play=True)

    async def _limit_pause(self) -> None:
        await asyncio.sleep(MAX_PAUSE_SECS)
        self._pause_limit = None
        logger.warning(f"{self}: a pause went unresolved for {MAX_PAUSE_SECS:.0f}s; playing on")
        self._resume()

    async def _drop(self) -> None:
        if self._replay is not None:
            await self.cancel_task(self._replay)
            self._replay = None
        self._held = []
        await self._open(play=False)

    async def _open(self, *, play: bool) -> None:
        gate, self._gate = self._gate, None
        if gate is not None and not gate.done():
            gate.set_result(play)
        limit, self._pause_limit = self._pause_limit, None
        if limit is not None and limit is not asyncio.current_task():
            await self.cancel_task(limit)

    async def cleanup(self):
        """Nothing waits on a pause once the transport is gone."""
        await self._drop()
        await super().cleanup()
