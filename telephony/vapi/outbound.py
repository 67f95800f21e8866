"""Outbound calls through VAPI: the campaign's assistant, the lead's variables, our call id."""

from __future__ import annotations

from aiohttp import web
from loguru import logger

from agent.assistant_files import AssistantBook
from config import Settings
from telephony.outbound.providers import DialError, OutboundCall, OutboundFactory
from telephony.vapi.client import VapiClient, VapiError
from telephony.vapi.routes import VAPI
from telephony.vapi.service import VapiService


def vapi_number_id(book: AssistantBook, from_number: str | None, assistant: str | None) -> str:
    """The VAPI phone number id for calls from ``from_number``.

    Its mapping in ``phoneNumbers``, else the assistant's ``vapi.phoneNumberId``.
    """
    if from_number:
        for entry in book.assistants.values():
            route = entry.assistant.route_of(from_number)
            if route is not None and route.vapi_phone_number_id:
                return route.vapi_phone_number_id
    return book.get(assistant).vapi.phone_number_id


class VapiOutbound:
    """:class:`telephony.outbound.providers.OutboundProvider` over VAPI's ``POST /call``."""

    runs_here = False  # VAPI runs the conversation: no line of ours is taken

    def __init__(
        self, client: VapiClient, service: VapiService, *, default_phone_number_id: str = ""
    ):
        """Bind to a VAPI account.

        Args:
            client: The REST client.
            service: Assistants, leads and the events target.
            default_phone_number_id: VAPI_PHONE_NUMBER_ID, for numbers without their own mapping.
        """
        self._client = client
        self._service = service
        self._default_number = default_phone_number_id

    async def place(self, call: OutboundCall) -> str:
        """Create the VAPI call; its events reach ``/vapi/events`` with our call id in metadata."""
        book = self._service.deps.assistants.book
        entry = book.entry(call.assistant)
        number_id = vapi_number_id(book, call.from_number, call.assistant) or self._default_number
        if not number_id:
            raise DialError(
                "no VAPI phone number: set VAPI_PHONE_NUMBER_ID, the assistant's "
                "vapi.phoneNumberId, or vapiPhoneNumberId on the number in phoneNumbers"
            )
        lead = await self._service.deps.leads.get(call.lead_id) if call.lead_id else None
        variables = await self._service.variables(entry, lead, call.to)
        body = {
            "phoneNumberId": number_id,
            "customer": {"number": call.to, **({"name": lead.name} if lead and lead.name else {})},
            **self._service.assistant_spec(entry, variables, lead),
            "metadata": {"phoneagentCallId": call.call_id, "phoneagentAssistant": entry.name},
        }
        try:
            created = await self._client.create_call(body)
        except VapiError as e:
            logger.warning(f"call {call.call_id}: VAPI refused the call: {e}")
            invalid = e.status == 400 and "customer" in str(e) and "number" in str(e)
            raise DialError(str(e), invalid_number=invalid) from None
        if not isinstance(created, dict) or not created.get("id"):
            raise DialError(f"VAPI answered POST /call without a call id: {str(created)[:200]}")
        return str(created["id"])

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._client.close()


def vapi_outbound(settings: Settings) -> OutboundFactory:
    """VAPI's provider for the dialer (VAPI_API_KEY, VAPI_BASE_URL, VAPI_PHONE_NUMBER_ID).

    Registered with ``register_outbound(app, "vapi", vapi_outbound(settings))``; built as
    the dialer starts, on the app's VAPI service; none without an API key.
    """

    def build(app: web.Application) -> VapiOutbound | None:
        if not settings.vapi_api_key:
            return None
        return VapiOutbound(
            VapiClient(settings.vapi_api_key, settings.vapi_base_url),
            app[VAPI],
            default_phone_number_id=settings.vapi_phone_number_id,
        )

    return build
