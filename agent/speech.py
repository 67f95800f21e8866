"""How an assistant hears and sounds: its transcriber, its voice, and its languages."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails

from agent.parts import AssistantPart

MULTI = "multi"
# The languages a "multi" transcriber listens for when the file lists none.
DEFAULT_LANGUAGES = ("en", "es")
LANGUAGE_TAG = r"[a-z]{2}(-[A-Za-z0-9]{2,3})?"


def iso(tag: str) -> str:
    """ISO 639-1 code of a language tag (``es`` for ``es-MX``)."""
    return tag.split("-")[0].lower()


def invalid(where: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A schema error at ``where`` below the field being validated (its JSON path goes deeper)."""
    return ValidationError.from_exception_data(
        "invalid",
        [InitErrorDetails(type="value_error", loc=where, input=value, ctx={"error": message})],
    )


class VoiceConfig(AssistantPart):
    """Text-to-speech (``voice``): ``voiceId`` is a Piper voice in models/ (empty: default)."""

    provider: str = "piper"
    voice_id: str = ""
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class TranscriberConfig(AssistantPart):
    """Speech-to-text (``transcriber``): a faster-whisper model folder and the caller's language.

    ``model`` names a CTranslate2 Whisper folder under models/ (empty: WHISPER_MODEL,
    else the packaged English-only tiny.en). ``language`` is a tag (``en``, ``es-MX``),
    or ``multi``: the caller's first words tell which of ``languages`` they speak
    (VAPI's ``multi``; ``languages`` as VAPI's Gladia transcriber lists them).
    """

    provider: str = "faster-whisper"
    model: str = ""
    language: str = "en"
    languages: list[str] = Field(default_factory=list)

    @field_validator("language")
    @classmethod
    def _tag(cls, language: str) -> str:
        if language != MULTI and not re.fullmatch(LANGUAGE_TAG, language):
            raise ValueError(f'{language!r} is not a language tag (en, es, es-MX...) nor "multi"')
        return language

    @field_validator("languages")
    @classmethod
    def _tags(cls, languages: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("language", MULTI) != MULTI and languages:
            raise ValueError('only used with "language": "multi"')
        if languages and len(languages) < 2:
            raise ValueError('"multi" needs at least two languages, e.g. ["en", "es"]')
        codes = [iso(tag) for tag in languages]
        for i, tag in enumerate(languages):
            if not re.fullmatch(LANGUAGE_TAG, tag):
                raise invalid((i,), f"{tag!r} is not a language tag (en, es, es-MX...)", tag)
            if codes.index(codes[i]) < i:
                raise invalid((i,), f"{tag!r}: its language is listed already", tag)
        return languages

    @property
    def multilingual(self) -> bool:
        """Whether the caller's language is told by their first words (``multi``)."""
        return self.language == MULTI

    @property
    def candidates(self) -> list[str]:
        """The language tags the caller may speak; the first is the one a call starts in."""
        if self.multilingual:
            return list(self.languages or DEFAULT_LANGUAGES)
        return [self.language]

    @property
    def language_code(self) -> str:
        """ISO 639-1 code (``es`` for ``es-ES``); a bilingual transcriber's first language."""
        return iso(self.candidates[0])


class LanguageOverride(AssistantPart):
    """One entry of ``languageOverrides``: what the assistant says and sounds like in that language.

    A field left out keeps the assistant's own, except ``voice``: the assistant's
    ``voice`` is its first language's, so another language with no voice here speaks
    with that language's default voice.

    Parameters:
        first_message: The greeting, when the call starts in this language.
        end_call_message: The goodbye.
        voice: The voice (``provider``, ``voiceId``, ``speed``), as ``voice``.
        system_prompt_addition: Added to the system prompt once the call is in this
            language (e.g. "Habla en español, de usted.").
        idle_messages: The silence prompts, as ``messagePlan.idleMessages``.
    """

    first_message: str | None = None
    end_call_message: str | None = None
    voice: VoiceConfig | None = None
    system_prompt_addition: str = ""
    idle_messages: list[str] | None = None
