"""Assistant files: JSON shaped like VAPI's assistant object, validated with pydantic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class AssistantPart(BaseModel):
    """Base for every part of an assistant file: camelCase keys, unknown keys kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Message(AssistantPart):
    """A prompt message (``model.messages``)."""

    role: Literal["system", "user", "assistant"]
    content: str


class ModelConfig(AssistantPart):
    """The LLM (``model``).

    ``provider``: ``local`` (the embedded model), ``openai``, or any OpenAI-compatible
    server (``custom-llm`` with ``url``, or any other name with ``url``). Empty: the
    server's configured LLM (LLM_BASE_URL), else the embedded model.
    """

    provider: str = ""
    model: str = ""
    url: str | None = None
    messages: list[Message] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    tools: list[dict[str, Any]] = Field(default_factory=list)


class VoiceConfig(AssistantPart):
    """Text-to-speech (``voice``): ``voiceId`` is a Piper voice in models/ (empty: default)."""

    provider: str = "piper"
    voice_id: str = ""
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class TranscriberConfig(AssistantPart):
    """Speech-to-text (``transcriber``): a faster-whisper model and the caller's language."""

    provider: str = "faster-whisper"
    model: str = ""
    language: str = Field(default="en", min_length=2, max_length=5)


class Assistant(AssistantPart):
    """One assistant: what it says first, how it thinks, sounds and hears."""

    name: str = Field(min_length=1, max_length=128)
    first_message: str = ""
    first_message_mode: Literal[
        "assistant-speaks-first",
        "assistant-waits-for-user",
        "assistant-speaks-first-with-model-generated-message",
    ] = "assistant-speaks-first"
    model: ModelConfig = Field(default_factory=ModelConfig)
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    transcriber: TranscriberConfig = Field(default_factory=TranscriberConfig)
    phone_numbers: list[str] = Field(default_factory=list)

    @property
    def system_prompt(self) -> str:
        """The system messages of ``model.messages``, joined."""
        return "\n\n".join(m.content for m in self.model.messages if m.role == "system")
