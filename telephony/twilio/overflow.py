"""A Twilio call that finds every line busy gets its assistant's overflow, in TwiML."""

from __future__ import annotations

from loguru import logger
from twilio.twiml.voice_response import VoiceResponse

from agent.assistant_files import LoadedAssistant
from crm.models import Call
from telephony.dependencies import CallDependencies
from telephony.overflow import END_REASONS, Overflows, schedule_callback

# Twilio <Say> voices for the languages we have phrases in.
SAY_LANGUAGES = {"en": "en-US", "es": "es-ES"}


async def overflow_twiml(
    deps: CallDependencies, overflows: Overflows, call: Call, entry: LoadedAssistant
) -> str:
    """Answer a call we have no line for, and end its row with why (``overflow-...``).

    ``callback``: the busy line in ``<Say>``, a hang-up, and a callback task for the
    caller's number; ``transfer``: ``<Dial>`` to the overflow number; ``vapi``: the
    TwiML VAPI returns for the call (the callback if VAPI fails).
    """
    overflow = overflows.plan(entry.assistant)
    action, twiml = overflow.action, ""
    if action == "vapi" and overflows.handover is not None:
        try:
            twiml = await overflows.handover.twiml(call, entry)
        except Exception as e:
            logger.error(f"call {call.id}: VAPI did not take the overflow ({e}); a callback")
            action = "callback"
    response = VoiceResponse()
    target = None
    if action == "transfer" and overflow.destination is not None:
        target = overflow.destination.target
        if overflow.destination.message:
            response.say(overflow.destination.message, language=_say_language(entry))
        response.dial(target, caller_id=call.to_number or None)
        twiml = str(response)
    elif action == "callback":
        task = await schedule_callback(deps.database, call, overflow.callback_delay)
        message = overflow.message if task else overflow.no_callback_message
        response.say(message, language=_say_language(entry))
        response.hangup()
        twiml = str(response)
    await deps.calls.overflowed(call.id, END_REASONS[action], transfer_target=target)
    logger.info(f"call {call.id}: every line busy → {action}")
    return twiml


def _say_language(entry: LoadedAssistant) -> str:
    return SAY_LANGUAGES.get(entry.assistant.language, "en-US")
