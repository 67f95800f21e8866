"""Keypad digits (DTMF) to the LLM: pipecat's DTMF aggregator, each entry sent as a user message."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import LLMMessagesAppendFrame
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator


@dataclass(frozen=True)
class KeypadSettings:
    """How keypad digits are grouped into one entry.

    Parameters:
        timeout_secs: An entry ends after this long without a key...
        terminator: ...or at once on this key (``#``), which is not part of the entry.
    """

    timeout_secs: float = 2.0
    terminator: str | None = "#"


class KeypadInput(DTMFAggregator):
    """Collects digits into an entry and hands it to the LLM as ``DTMF: 1234``.

    pipecat's aggregator emits a transcription, which our turn-taking (speech
    based) would hold until the caller next speaks; an entry is a complete turn,
    so it is appended to the context as a user message that runs the LLM at once.

    Events:
        on_keypad_entry(processor, digits: str): an entry was sent to the LLM.
    """

    def __init__(self, settings: KeypadSettings, **kwargs):
        """Create the processor for one call."""
        terminator = KeypadEntry(settings.terminator) if settings.terminator else None
        super().__init__(timeout=settings.timeout_secs, termination_digit=terminator, **kwargs)  # type: ignore[arg-type]
        self._terminator = settings.terminator or ""
        self._register_event_handler("on_keypad_entry")

    async def _flush_aggregation(self):
        digits, self._aggregation = self._aggregation, ""
        if self._terminator and digits.endswith(self._terminator):
            digits = digits[: -len(self._terminator)]
        if not digits:
            return
        await self._call_event_handler("on_keypad_entry", digits)
        message = {"role": "user", "content": f"{self._prefix}{digits}"}
        await self.push_frame(LLMMessagesAppendFrame(messages=[message], run_llm=True))
