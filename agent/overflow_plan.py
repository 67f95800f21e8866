"""``overflowPlan``: what a caller gets when every line of this server is busy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from agent.parts import AssistantPart
from agent.tool_config import TransferDestination

# What a call that finds every line busy gets (see telephony.overflow).
OverflowAction = Literal["callback", "transfer", "vapi"]


class OverflowPlan(AssistantPart):
    """``overflowPlan``: the assistant's answer to a call that arrives while every line is busy.

    Not a VAPI field (VAPI scales for you); each key left out takes the server's
    setting (OVERFLOW_ACTION, OVERFLOW_TRANSFER_NUMBER, OVERFLOW_CALLBACK_MINUTES).

    ``action``: ``callback`` (``message``, then a callback task for the caller's number),
    ``transfer`` (``destination``: a number, as ``transferCall`` destinations are
    written), or ``vapi`` (the same assistant, carried by VAPI for this call).
    ``message``: what a ``callback`` caller hears (empty: the language's own line).
    """

    action: OverflowAction | None = None
    message: str = ""
    callback_delay_minutes: float | None = Field(default=None, ge=0, le=7 * 24 * 60)
    destination: TransferDestination | None = None

    @model_validator(mode="after")
    def _destination_for_transfer(self) -> OverflowPlan:
        if self.destination is not None and self.destination.type != "number":
            raise ValueError('overflow transfers go to a "number" destination for now')
        return self
