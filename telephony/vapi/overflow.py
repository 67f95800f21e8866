"""VAPI as the overflow provider: a Twilio call we have no line for, run by VAPI instead."""

from __future__ import annotations

from typing import Any

from agent.assistant_files import LoadedAssistant
from config import Settings
from crm.models import Call
from telephony.vapi.client import VapiClient, VapiError
from telephony.vapi.outbound import vapi_number_id
from telephony.vapi.service import VapiService


class VapiHandover:
    """Hands a Twilio call to VAPI with VAPI's phone call provider bypass.

    ``POST /call`` with ``phoneCallProviderBypassEnabled: true`` creates the VAPI call
    without VAPI dialing anything, and answers ``phoneCallProviderDetails.twiml``: the
    TwiML (a ``<Connect><Stream>`` to VAPI) that our voice webhook returns to Twilio, so
    the caller talks to the same assistant on VAPI. Its events reach ``/vapi/events`` as
    a VAPI call of its own (``metadata.phoneagentOverflowOf`` names our overflowed call).
    """

    def __init__(self, client: VapiClient, service: VapiService, default_phone_number_id: str):
        """Bind to the VAPI account (VAPI_API_KEY) and our VAPI service."""
        self._client = client
        self._service = service
        self._default_number = default_phone_number_id

    @classmethod
    def for_server(cls, settings: Settings, service: VapiService) -> VapiHandover | None:
        """VAPI_API_KEY, VAPI_BASE_URL, VAPI_PHONE_NUMBER_ID; None without an API key."""
        if not settings.vapi_api_key:
            return None
        client = VapiClient(settings.vapi_api_key, settings.vapi_base_url)
        return cls(client, service, settings.vapi_phone_number_id)

    async def twiml(self, call: Call, entry: LoadedAssistant) -> str:
        """The TwiML VAPI returns for ``call``, running ``entry``'s assistant.

        Raises:
            VapiError: VAPI refused the call, or answered without TwiML.
        """
        book = self._service.deps.assistants.book
        number_id = vapi_number_id(book, call.to_number, entry.name) or self._default_number
        lead = await self._service.deps.leads.get(call.lead_id) if call.lead_id else None
        variables = await self._service.variables(entry, lead, call.from_number)
        body: dict[str, Any] = {
            "phoneCallProviderBypassEnabled": True,
            "customer": {"number": call.from_number or ""},
            **({"phoneNumberId": number_id} if number_id else {}),
            **self._service.assistant_spec(entry, variables),
            "metadata": {"phoneagentAssistant": entry.name, "phoneagentOverflowOf": call.id},
        }
        created = await self._client.create_call(body)
        details = created.get("phoneCallProviderDetails") if isinstance(created, dict) else None
        twiml = details.get("twiml") if isinstance(details, dict) else None
        if not isinstance(twiml, str) or "<Response" not in twiml:
            raise VapiError(f"VAPI answered POST /call without TwiML: {str(created)[:200]}")
        return twiml

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._client.close()
