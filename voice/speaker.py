"""Lines the call says on its own (not from the LLM), and hanging up once the caller heard them."""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.frames.frames import EndFrame, Frame, InterruptionFrame, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.turns.user_mute.base_user_mute_strategy import BaseUserMuteStrategy

from voice.frames import BotResumeFrame, PlaybackBarrierFrame

# Longest wait for a line to play: a few seconds plus its length read slowly.
BASE_WAIT_SECS = 8.0
CHARS_PER_SEC = 8.0


class HoldCallerStrategy(BaseUserMuteStrategy):
    """Ignores the caller while held: nothing they say starts a turn or cuts the bot off.

    Used while the bot says its last line before hanging up or transferring: the
    caller's words still reach the transcript, but not the LLM.
    """

    def __init__(self, **kwargs):
        """Create the strategy, not holding."""
        super().__init__(**kwargs)
        self.holding = False

    async def process_frame(self, frame: Frame) -> bool:
        """Muted while holding."""
        return self.holding


class CallSpeaker:
    """Says lines into a running call and ends it once its last line played out.

    Lines are queued at the start of the pipeline, so they follow whatever the bot
    is already saying; a :class:`PlaybackBarrierFrame` behind each line resolves
    when the caller's side confirms it played.
    """

    def __init__(self, worker: PipelineWorker, hold: HoldCallerStrategy):
        """Bind the speaker to one call's worker and its caller-hold strategy."""
        self._worker = worker
        self._hold = hold
        self.ending: str | None = None

    @staticmethod
    def wait_secs(text: str) -> float:
        """How long a line may take to play before we stop waiting for it."""
        return BASE_WAIT_SECS + len(text) / CHARS_PER_SEC

    async def say(self, text: str, *, wait: bool = True, append_to_context: bool = True) -> bool:
        """Say ``text``; with ``wait``, return once it was heard.

        Returns:
            Whether it played out in time (always True without ``wait``).
        """
        await self._play_on_if_held()
        await self._worker.queue_frame(TTSSpeakFrame(text, append_to_context=append_to_context))
        return await self.played_out(self.wait_secs(text)) if wait else True

    async def played_out(self, timeout: float = BASE_WAIT_SECS) -> bool:
        """Wait until what is queued so far has played; False on timeout."""
        await self._play_on_if_held()
        barrier = PlaybackBarrierFrame()
        await self._worker.queue_frame(barrier)
        try:
            await asyncio.wait_for(asyncio.shield(barrier.heard), timeout)
            return True
        except TimeoutError:
            logger.warning(f"{self._worker}: playback not confirmed after {timeout:.0f}s")
            return False

    async def interrupt(self) -> None:
        """Cut off whatever the bot is saying (the carrier's buffer is cleared too)."""
        await self._worker.queue_frame(InterruptionFrame())

    async def _play_on_if_held(self) -> None:
        # A held caller's speech no longer judged: a bot it paused plays on.
        if self._hold.holding:
            await self._worker.queue_frame(BotResumeFrame())

    def hold_caller(self, holding: bool = True) -> None:
        """Ignore (or listen to again) what the caller says."""
        self._hold.holding = holding

    async def hang_up(self, reason: str, goodbye: str | None = None) -> None:
        """Hold the caller, say ``goodbye``, let everything play out, then end the pipeline.

        Only the first hang-up counts; later ones (a silence timeout during a
        goodbye) are ignored.
        """
        if self.ending or self._worker.has_finished():
            return
        self.ending = reason
        self.hold_caller()
        if goodbye:
            await self.say(goodbye)
        else:
            await self.played_out()
        await self._worker.queue_frame(EndFrame(reason=reason))
