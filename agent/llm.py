"""The LLM a call talks to: any OpenAI-compatible endpoint, or the embedded local model."""

from __future__ import annotations

from dataclasses import dataclass

# The OpenAI client imports its chat resources (hundreds of pydantic models, ~100 ms
# holding the GIL) on first use. Imported here they load at start-up, not inside the
# first call's first reply, where they stalled the event loop and PJSIP's media clock.
import openai.resources.chat.chat  # noqa: F401
from pipecat.services.openai.llm import OpenAILLMService

from agent.assistant import EMBEDDED_LLM, Assistant
from agent.guarded_llm import GuardedLLMService
from agent.local_llm import LocalLLMService, LocalModel

OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class LLMEndpoint:
    """The server-wide LLM settings (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL, LLM_TIMEOUT_SECS).

    Parameters:
        base_url: An OpenAI-compatible base URL; empty means the embedded model.
        api_key: Its key (many local servers accept any).
        model: The model name to ask for when the assistant names none.
        embedded: The embedded model, when loaded.
        timeout_secs: Longest wait for a remote LLM's next chunk before the retry.
        embedded_timeout_secs: The same for the embedded model, which serves one
            reply at a time (a second caller waits for the first).
    """

    base_url: str = ""
    api_key: str = ""
    model: str = ""
    embedded: LocalModel | None = None
    timeout_secs: float = 10.0
    embedded_timeout_secs: float = 30.0

    def uses_embedded(self, assistant: Assistant) -> bool:
        """Whether this assistant runs on the embedded model."""
        provider = assistant.model.provider
        if provider == EMBEDDED_LLM:
            return True
        return not provider and not self.base_url and not assistant.model.url


def create_llm(
    assistant: Assistant,
    endpoint: LLMEndpoint,
    *,
    system_prompt: str | None = None,
    retry_line: str = "",
) -> GuardedLLMService:
    """The LLM service for one call of ``assistant``.

    Args:
        assistant: The call's assistant.
        endpoint: The server-wide LLM settings.
        system_prompt: The system prompt with variables filled (default: as written).
        retry_line: What the caller hears before a failed completion is retried.

    Raises:
        RuntimeError: The assistant needs the embedded model and it is not loaded.
    """
    prompt = assistant.system_prompt if system_prompt is None else system_prompt
    settings = OpenAILLMService.Settings(
        system_instruction=prompt or None,
        temperature=assistant.model.temperature if assistant.model.temperature is not None else 0.4,
    )
    if assistant.model.max_tokens:
        settings.max_tokens = assistant.model.max_tokens
    if endpoint.uses_embedded(assistant):
        if endpoint.embedded is None:
            raise RuntimeError(
                f"assistant '{assistant.name}' needs the embedded LLM, which is not loaded"
            )
        if not assistant.model.max_tokens:
            settings.max_tokens = 120
        return LocalLLMService(
            model=endpoint.embedded,
            settings=settings,
            timeout_secs=endpoint.embedded_timeout_secs,
            retry_line=retry_line,
        )
    base_url = assistant.model.url or (
        OPENAI_URL
        if assistant.model.provider == "openai" and not endpoint.base_url
        else endpoint.base_url
    )
    settings.model = assistant.model.model or endpoint.model or "gpt-4.1-mini"
    return GuardedLLMService(
        base_url=base_url,
        api_key=endpoint.api_key or "not-needed",
        settings=settings,
        timeout_secs=endpoint.timeout_secs,
        retry_line=retry_line,
    )
