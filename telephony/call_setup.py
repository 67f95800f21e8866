"""What one call runs with: its assistant, its lead, its variables filled in, its speech models."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from agent.assistant import Assistant
from agent.assistant_files import LoadedAssistant
from agent.clock import now_variables
from agent.phrases import Phrases, phrases_for
from agent.speech import iso
from agent.templates import render
from agent.variables import call_timezone, call_variables
from crm.models import Call, Lead
from telephony.dependencies import CallDependencies
from telephony.readiness import choose_speech
from voice.keypad import KeypadSettings
from voice.pipeline import CallSpeech
from voice.turns import TurnTaking


@dataclass
class CallPlan:
    """One call's assistant and everything derived from it when the call starts.

    Parameters:
        entry: The assistant as loaded (a reload later does not change it).
        assistant: The assistant as the call speaks it now: a bilingual one in the
            language the call is in (see :meth:`speak`), any other as loaded.
        call: The call row.
        lead: The CRM lead of the other party, if any.
        phone: The other party's number.
        timezone: Their IANA zone.
        variables: Every ``{{variable}}`` value of this call.
        phrases: Lines in the caller's language.
        speech: Speech choices for the pipeline.
        missing: Variables the templates used that had no value.
    """

    entry: LoadedAssistant
    assistant: Assistant
    call: Call
    lead: Lead | None
    phone: str | None
    timezone: str
    variables: dict[str, Any]
    phrases: Phrases
    speech: CallSpeech
    missing: set[str] = field(default_factory=set)

    def render(self, text: str) -> str:
        """Fill a configured text with this call's variables (a missing one never says braces)."""
        missing: list[str] = []
        result = render(text, self.variables, missing)
        new = set(missing) - self.missing
        if new:
            self.missing |= new
            logger.info(
                f"call {self.call.id}: no value for {', '.join(sorted(new))}; "
                f"rendered empty or default"
            )
        return result

    @property
    def system_prompt(self) -> str:
        """The system prompt with variables filled."""
        return self.render(self.assistant.system_prompt)

    def history(self) -> list[dict[str, Any]]:
        """The non-system messages of ``model.messages`` (examples), filled."""
        return [
            {"role": m.role, "content": self.render(m.content)}
            for m in self.assistant.model.messages
            if m.role != "system"
        ]

    def speak(self, language: str) -> Assistant:
        """Go on in another of a bilingual assistant's languages: its lines, phrases, time words."""
        self.assistant = self.entry.assistant.in_language(language)
        self.phrases = phrases_for(self.assistant.language)
        self.variables.update(now_variables(self.timezone, self.assistant.language))
        return self.assistant


def _speech(deps: CallDependencies, entry: LoadedAssistant, spoken: Assistant) -> CallSpeech:
    if deps.speech is None:
        raise RuntimeError("no speech models are loaded in this process")
    assistant = entry.assistant
    choice = choose_speech(deps.speech, assistant, spoken.transcriber.language)
    keypad = assistant.keypad_input_plan
    delimiters = keypad.delimiters
    return CallSpeech(
        language=spoken.language,
        listens_for=tuple(iso(tag) for tag in assistant.transcriber.candidates)
        if assistant.multilingual
        else (),
        voice=choice.voice,
        speed=spoken.voice.speed,
        whisper=choice.whisper,
        keypad=KeypadSettings(keypad.timeout_seconds, delimiters[0] if delimiters else None)
        if keypad.enabled
        else None,
        idle_secs=assistant.silence_timeout_seconds / 2,
        turns=TurnTaking(backchannels_pass=assistant.stop_speaking_plan.backchannels_pass),
    )


async def plan_call(deps: CallDependencies, call: Call, entry: LoadedAssistant) -> CallPlan:
    """Gather what a call needs at stream start: lead, time zone, variables, speech.

    The campaign contact of an outbound call arrives as the call's lead and, for
    values the CRM does not hold, as ``call.extra["variableValues"]`` (set when the
    call was opened).
    """
    lead = await deps.leads.get(call.lead_id) if call.lead_id else None
    # A bilingual assistant starts in the lead's language when it is one of its own.
    assistant = entry.assistant.in_language(lead.language if lead else None)
    phone = call.to_number if call.direction == "outbound" else call.from_number
    zone = call_timezone(assistant, lead, phone)
    overrides = (call.extra or {}).get("variableValues") or {}
    variables = call_variables(
        assistant, lead=lead, phone=phone, timezone=zone, overrides=overrides
    )
    speech = await asyncio.to_thread(_speech, deps, entry, assistant)
    return CallPlan(
        entry=entry,
        assistant=assistant,
        call=call,
        lead=lead,
        phone=lead.phone if lead else phone,
        timezone=zone,
        variables=variables,
        phrases=phrases_for(assistant.language),
        speech=speech,
    )
