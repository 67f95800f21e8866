"""Who places a campaign's calls: the campaign's choice, else the number's, else the assistant's."""

from __future__ import annotations

from collections.abc import Callable

from agent.assistant_files import AssistantBook
from agent.library import AssistantLibrary
from crm.models import Campaign

# Our names for providers: "local" (our own pipeline) is placed through Twilio; "sip" is our
# own pipeline through the SIP trunk.
PLACED_BY = {"local": "twilio", "twilio": "twilio", "sip": "sip", "vapi": "vapi"}


def outbound_provider(
    book: AssistantBook, *, campaign: str, from_number: str | None, assistant: str | None
) -> str:
    """``twilio``, ``sip`` or ``vapi`` for a campaign's calls.

    Args:
        book: The assistants now loaded (number mappings and assistant providers).
        campaign: The campaign's ``provider`` (``auto`` defers to the number, then the assistant).
        from_number: The caller ID the calls go out from.
        assistant: The campaign's assistant (None: the default one).
    """
    if campaign in PLACED_BY:
        return PLACED_BY[campaign]
    if from_number:
        for entry in book.assistants.values():
            route = entry.assistant.route_of(from_number)
            if route is not None and route.provider:
                return PLACED_BY[route.provider]
    return PLACED_BY[book.get(assistant).provider]


def campaign_route(assistants: AssistantLibrary) -> Callable[[Campaign], str]:
    """The dialer's route for the server: :func:`outbound_provider` on the assistants loaded now.

    The assistants are read at each call, so a reloaded file takes effect at the next tick.
    """

    def route(campaign: Campaign) -> str:
        return outbound_provider(
            assistants.book,
            campaign=campaign.provider,
            from_number=campaign.from_number,
            assistant=campaign.assistant,
        )

    return route
