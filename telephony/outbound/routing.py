"""Which provider carries an outbound call: the campaign's choice, else the number's, else the assistant's."""

from __future__ import annotations

from agent.assistants import AssistantBook

# Our names for providers: "local" (our own pipeline) is placed through Twilio.
PLACED_BY = {"local": "twilio", "twilio": "twilio", "vapi": "vapi"}


def outbound_provider(
    book: AssistantBook, *, campaign: str, from_number: str | None, assistant: str | None
) -> str:
    """``twilio`` or ``vapi`` for a campaign's calls.

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


def vapi_number_id(book: AssistantBook, from_number: str | None, assistant: str | None) -> str:
    """The VAPI phone number id for calls from ``from_number``: its mapping, else the assistant's ``vapi.phoneNumberId``."""
    if from_number:
        for entry in book.assistants.values():
            route = entry.assistant.route_of(from_number)
            if route is not None and route.vapi_phone_number_id:
                return route.vapi_phone_number_id
    return book.get(assistant).vapi.phone_number_id
