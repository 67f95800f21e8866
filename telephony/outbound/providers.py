"""Placing outbound calls through a provider: one small interface, one class per carrier's folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundCall:
    """What the provider needs to place one call.

    Parameters:
        call_id: Our call id (it rides on the callback URLs).
        to: The number to call (E.164).
        from_number: Our caller ID (E.164).
        assistant: The assistant that talks (providers that run it themselves need it).
        lead_id: The lead being called (for the assistant's variables).
    """

    call_id: str
    to: str
    from_number: str
    assistant: str | None = None
    lead_id: str | None = None


class DialError(RuntimeError):
    """The provider refused to place a call.

    Attributes:
        invalid_number: The number cannot be called at all (do not retry).
    """

    def __init__(self, message: str, *, invalid_number: bool = False):
        super().__init__(message)
        self.invalid_number = invalid_number


class OutboundProvider(Protocol):
    """Places calls; status arrives later through the provider's callbacks."""

    async def place(self, call: OutboundCall) -> str:
        """Place a call and return the provider's id for it.

        Raises:
            DialError: The provider refused it.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
