"""The LLM's record of a bot turn cut short, rewritten to what the caller heard of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

Messages = list[Any]


class BotTurn(Protocol):
    """What is known of a bot turn (``voice.playback.BotTurn`` is one)."""

    @property
    def text(self) -> str:
        """What the caller heard of it."""

    @property
    def spoken_text(self) -> str:
        """Everything it was to say."""


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w']+", " ", text.lower()).split()


def said_as_heard(turn: BotTurn) -> Callable[[Messages], Messages]:
    """A context transform (``LLMMessagesTransformFrame``) for an interrupted ``turn``.

    pipecat's assistant aggregator records the sentences whose audio was *sent*
    before the interruption: a sentence still in the carrier's buffer, or cut in
    the middle, is recorded whole or not at all. The playback tracker knows what was
    heard (marks, then playback time); the turn's last assistant message becomes that,
    or is added when the aggregator recorded nothing of the turn.
    """

    def transform(messages: Messages) -> Messages:
        last = messages[-1] if messages else None
        recorded = _turn_message(last, turn)
        if recorded:
            if turn.text:
                return [*messages[:-1], {**last, "content": turn.text}]
            return messages[:-1]
        if turn.text and not (isinstance(last, dict) and last.get("role") == "assistant"):
            return [*messages, {"role": "assistant", "content": turn.text}]
        return messages

    return transform


def _turn_message(message: Any, turn: BotTurn) -> bool:
    """Whether ``message`` is the aggregator's record of ``turn`` (a start of what it said)."""
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return False
    said, spoken = _words(content), _words(turn.spoken_text)
    return spoken[: len(said)] == said
