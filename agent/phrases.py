"""What the assistant says on its own (fillers, goodbyes, confirmations...), per language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrases:
    """Lines spoken by the call machinery rather than the LLM, and those tools hand it to read.

    Assistants override some of them with VAPI's fields: ``endCallMessage``
    (goodbyes), ``messagePlan.idleMessages`` (the silence prompt), tool ``messages``
    (``request-response-delayed`` is the filler), a destination's ``message``.
    ``booked`` and ``callback_scheduled`` are templates: ``{when}`` is the spoken time.
    """

    filler: str
    idle_prompt: str
    silence_goodbye: str
    max_duration_goodbye: str
    goodbye: str
    llm_retry: str
    llm_failure: str
    transfer: str
    transfer_failed: str
    opt_out: str
    unavailable: str
    lines_busy: str
    lines_busy_later: str
    booked: str
    callback_scheduled: str


ENGLISH = Phrases(
    filler="One moment, please.",
    idle_prompt="Are you still there?",
    silence_goodbye="It seems we lost each other. I'll let you go now. Goodbye.",
    max_duration_goodbye=(
        "I'm sorry, we've reached the time limit for this call. Thank you for calling. Goodbye."
    ),
    goodbye="Thank you for calling. Goodbye.",
    llm_retry="Sorry, give me just a moment.",
    llm_failure=(
        "I'm sorry, I'm having technical trouble right now. "
        "Someone from our team will call you back shortly. Goodbye."
    ),
    transfer="Please hold while I transfer you to a colleague.",
    transfer_failed=(
        "I'm sorry, I couldn't reach a colleague right now. "
        "Would you like someone to call you back?"
    ),
    opt_out=(
        "Understood. I've removed your number from our list, and we won't call you again. Goodbye."
    ),
    unavailable="Sorry, this line is not available right now. Please call again later. Goodbye.",
    lines_busy=(
        "Thank you for calling. All of our lines are busy right now. "
        "We'll call you back shortly. Goodbye."
    ),
    lines_busy_later=(
        "Thank you for calling. All of our lines are busy right now. "
        "Please call again in a few minutes. Goodbye."
    ),
    booked="You're booked for {when}.",
    callback_scheduled="We'll call you back on {when}.",
)

SPANISH = Phrases(
    filler="Un momento, por favor.",
    idle_prompt="¿Sigue ahí?",
    silence_goodbye="Parece que se ha cortado la comunicación. Le dejo por ahora. Adiós.",
    max_duration_goodbye=(
        "Lo siento, hemos llegado al tiempo máximo de esta llamada. Gracias por llamar. Adiós."
    ),
    goodbye="Gracias por su llamada. Adiós.",
    llm_retry="Perdone, deme un momento.",
    llm_failure=(
        "Lo siento, estoy teniendo problemas técnicos. "
        "Alguien de nuestro equipo le devolverá la llamada en breve. Adiós."
    ),
    transfer="Un momento, le paso con un compañero.",
    transfer_failed=(
        "Lo siento, ahora mismo no puedo pasarle con nadie. ¿Quiere que le llamemos más tarde?"
    ),
    opt_out="Entendido. He quitado su número de nuestra lista y no volveremos a llamarle. Adiós.",
    unavailable=(
        "Lo sentimos, esta línea no está disponible en este momento. Llame más tarde, por favor. "
        "Adiós."
    ),
    lines_busy=(
        "Gracias por llamar. Todas nuestras líneas están ocupadas en este momento. "
        "Le devolveremos la llamada en breve. Adiós."
    ),
    lines_busy_later=(
        "Gracias por llamar. Todas nuestras líneas están ocupadas en este momento. "
        "Vuelva a llamar en unos minutos, por favor. Adiós."
    ),
    booked="Cita reservada para {when}.",
    callback_scheduled="Le llamaremos {when}.",
)

BY_LANGUAGE = {"en": ENGLISH, "es": SPANISH}


def phrases_for(language: str) -> Phrases:
    """The phrases for an ISO 639-1 language; English for languages we have none for."""
    return BY_LANGUAGE.get(language.split("-")[0].lower(), ENGLISH)
