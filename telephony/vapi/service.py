"""What is VAPI's own beside the shared call dependencies: our events target, pushed assistants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from agent import vapi_ids as ids
from agent.assistant_files import LoadedAssistant
from agent.variables import call_timezone, call_variables
from crm.calls import NewCall
from crm.models import Call, Lead
from telephony.dependencies import CallDependencies
from telephony.vapi.messages import CallRef
from telephony.vapi.translate import VapiTarget, vapi_assistant


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


@dataclass
class VapiService:
    """VAPI as this server talks to it: the shared call dependencies, plus what is VAPI's own.

    VAPI runs the speech and the conversation itself; what is its own here is where it
    reaches us (``target``) and which VAPI assistant a file was pushed as.

    Parameters:
        deps: What every call shares (database, stores, assistants, hooks).
        target: Our events URL, the VAPI secret, the default VAPI providers.
    """

    deps: CallDependencies
    target: VapiTarget
    _stale: set[str] = field(default_factory=set)

    @property
    def secret(self) -> str:
        """What VAPI must send with every message."""
        return self.target.secret

    def assistant_id(self, entry: LoadedAssistant) -> str | None:
        """The VAPI assistant for a file: ``vapi.assistantId``, else the id its last push stored.

        A file edited since its push is sent inline instead (VAPI's copy is out of date),
        with a warning once per edit to push it again.
        """
        if entry.assistant.vapi.assistant_id:
            return entry.assistant.vapi.assistant_id
        record = ids.pushed(entry.path)
        if record is None:
            return None
        if record.sha256 != entry.sha256:
            if record.assistant_id not in self._stale:
                self._stale.add(record.assistant_id)
                logger.warning(
                    f"{entry.path.name} changed since it was pushed to VAPI ({record.pushed_at}); "
                    f"sending it inline until `phoneagent-vapi push {entry.path}`"
                )
            return None
        return record.assistant_id

    def entry_for(self, ref: CallRef, call: Call | None) -> LoadedAssistant:
        """A VAPI call's assistant: as recorded, else named in metadata, else by id or number."""
        book = self.deps.assistants.book
        for name in (call.assistant if call else None, ref.assistant_name):
            if name and name in book.assistants:
                return book.assistants[name]
        if ref.assistant_id:
            for entry in book.assistants.values():
                if self.assistant_id(entry) == ref.assistant_id:
                    return entry
        return self.deps.assistants.entry_for_number(ref.our_number)

    async def variables(
        self,
        entry: LoadedAssistant,
        lead: Lead | None,
        phone: str | None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``variableValues`` for VAPI: the same values a local call fills its templates with."""
        assistant = entry.assistant
        zone = call_timezone(assistant, lead, phone)
        values = call_variables(
            assistant, lead=lead, phone=phone, timezone=zone, overrides=extra or {}
        )
        return _jsonable(values)

    def assistant_spec(
        self, entry: LoadedAssistant, variables: dict[str, Any], lead: Lead | None = None
    ) -> dict[str, Any]:
        """How VAPI runs an assistant: its pushed ``assistantId``, or inline with variables.

        A lead who refused recording (``consentRecording: false``) is not recorded by VAPI
        either, and does not hear the recording notice.
        """
        spec: dict[str, Any]
        assistant_id = self.assistant_id(entry)
        if assistant_id:
            spec = {"assistantId": assistant_id}
        else:
            spec = {"assistant": vapi_assistant(entry, self.target)}
        overrides: dict[str, Any] = {"variableValues": variables}
        if lead is not None and lead.consent_recording is False:
            overrides["artifactPlan"] = {"recordingEnabled": False}
            if entry.assistant.recording_notice:
                overrides["firstMessage"] = entry.assistant.first_message
        spec["assistantOverrides"] = overrides
        return spec

    async def find(self, ref: CallRef) -> Call | None:
        """Our row for a VAPI call, by our id (outbound) or VAPI's."""
        call = await self.deps.calls.get(ref.our_id) if ref.our_id else None
        if call is None and ref.vapi_id:
            call = await self.deps.calls.by_provider_id("vapi", ref.vapi_id)
        return call

    async def find_or_open(
        self, ref: CallRef, entry: LoadedAssistant | None = None, status: str = "in-progress"
    ) -> Call | None:
        """Our row for a VAPI call, opened for a call we have not seen yet (None without an id)."""
        call = await self.find(ref)
        if call is not None or not ref.vapi_id:
            return call
        entry = entry or self.entry_for(ref, None)
        lead = (
            await self.deps.leads.get_or_create(ref.customer, source=f"{ref.direction}-call")
            if ref.customer
            else None
        )
        ours, theirs = ref.our_number, ref.customer
        new = NewCall(
            provider="vapi",
            provider_call_id=ref.vapi_id,
            direction=ref.direction,
            from_number=theirs if ref.direction == "inbound" else ours,
            to_number=ours if ref.direction == "inbound" else theirs,
            assistant=entry.name,
            status=status,
            lead_id=lead.id if lead else None,
        )
        call = await self.deps.calls.open(new)
        logger.info(
            f"call {call.id}: {ref.direction} VAPI call {ref.vapi_id} → assistant '{entry.name}'"
        )
        return call
