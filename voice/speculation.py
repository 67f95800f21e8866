"""Speculative answers: the LLM starts on the caller's words while smart-turn still waits."""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation
from pipecat.utils.string import TextPartForConcatenation, concatenate_aggregated_text

from voice.turn_words import WordsUserTurnStopStrategy


class SpeculativeUserTurnStopStrategy(WordsUserTurnStopStrategy):
    """Smart-turn end of turn (with words and dictation) that answers ahead while it waits.

    When the caller has stopped and their words are transcribed (final) but the turn
    is still open (smart-turn heard them mid-sentence and their words do not read
    finished, so it waits ``max_pause_secs``; or they are reading something out),
    the LLM is asked at once, on a provisional context (pipecat's speculative
    inference). Its reply is held in the LLM service's
    speculation gate. When the turn then ends on silence, the held reply is released
    at once and the caller's words are written to the context without a second
    request. When the caller goes on instead (VAD hears them, or more words come),
    the request is withdrawn: pipecat cancels it, drops whatever it produced, and the
    words join the same turn. A speculative request that reaches a tool call is
    withdrawn by pipecat before the tool runs; the confirmed turn asks again and the
    tool runs then, once.
    """

    def __init__(self, *, speculate: bool = True, **kwargs):
        """Create the strategy.

        Args:
            speculate: Answer ahead while the turn waits; False: end turns as the
                strategy below does, and only then ask.
            **kwargs: Passed to ``WordsUserTurnStopStrategy``.
        """
        super().__init__(**kwargs)
        self._speculate = speculate
        self._parts: list[TextPartForConcatenation] = []
        self._speculation: UserTurnSpeculation | None = None
        self._confirming = False
        self._in_turn = False  # words over the bot (a backchannel) may come outside any turn

    async def handle_user_turn_started(self):
        """A new turn: no words, nothing speculated."""
        await self._withdraw("a new turn started")
        self._parts, self._in_turn = [], True
        await super().handle_user_turn_started()

    async def handle_user_turn_stopped(self):
        """The turn ended; a speculation it did not confirm is void."""
        await self._withdraw("the turn ended without it")
        self._parts, self._in_turn = [], False
        await super().handle_user_turn_stopped()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Withdraw on more speech; speculate once the turn waits with final words in hand."""
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._withdraw("the caller went on")
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            await self._withdraw("more words came")
            self._parts.append(
                TextPartForConcatenation(
                    frame.text, includes_inter_part_spaces=frame.includes_inter_frame_spaces
                )
            )
        elif isinstance(frame, EagerEndOfTurnCancelFrame):
            # The LLM withdrew it (it wanted a tool); the confirmed turn asks again.
            self._speculation = None
        return await super().process_frame(frame)

    async def _maybe_trigger_user_turn_stopped(self):
        await super()._maybe_trigger_user_turn_stopped()
        if self._waiting_with_words():
            text = concatenate_aggregated_text(self._parts)
            self._speculation = UserTurnSpeculation(text=text)
            logger.debug(f"{self}: the turn waits on a final transcript; answering ahead")
            await self.trigger_user_turn_inference_triggered(speculation=self._speculation)

    def _waiting_with_words(self) -> bool:
        """The caller stopped, their words are final, and the turn did not end on them."""
        return (
            self._speculate
            and self._in_turn
            and self._speculation is None
            and bool(self._parts)
            and self._vad_stopped
            and not self._vad_user_speaking
            and self._transcript_finalized
        )

    async def trigger_user_turn_inference_triggered(
        self, *, speculation: UserTurnSpeculation | None = None
    ):
        """Ask the LLM, unless the turn ending now was already answered ahead."""
        if speculation is None and self._speculation is not None:
            self._speculation, self._confirming = None, True
            logger.debug(f"{self}: the turn ended as speculated; releasing the held reply")
            return
        await super().trigger_user_turn_inference_triggered(speculation=speculation)

    async def trigger_user_turn_finalized(
        self, *, enable_user_speaking_frames: bool | None = None, confirms_speculation: bool = False
    ):
        """End the turn; one answered ahead writes its words without a second request."""
        confirms, self._confirming = self._confirming or confirms_speculation, False
        await super().trigger_user_turn_finalized(
            enable_user_speaking_frames=enable_user_speaking_frames,
            confirms_speculation=confirms,
        )

    async def _withdraw(self, reason: str) -> None:
        if self._speculation is None:
            return
        self._speculation = None
        logger.debug(f"{self}: speculative answer withdrawn ({reason})")
        await self.trigger_user_turn_speculation_cancelled()
