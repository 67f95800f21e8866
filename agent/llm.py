"""The LLM a call talks to: any OpenAI-compatible endpoint, or the embedded local model."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService

from agent.assistant import Assistant
from agent.local_llm import LocalLLMService, LocalModel

OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class LLMEndpoint:
    """The server-wide LLM settings (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL).

    Parameters:
        base_url: An OpenAI-compatible base URL; empty means the embedded model.
        api_key: Its key (many local servers accept any).
        model: The model name to ask for when the assistant names none.
        local: The embedded model, when loaded.
    """

    base_url: str = ""
    api_key: str = ""
    model: str = ""
    local: LocalModel | None = None

    def uses_local(self, assistant: Assistant) -> bool:
        """Whether this assistant runs on the embedded model."""
        provider = assistant.model.provider
        if provider == "local":
            return True
        return not provider and not self.base_url and not assistant.model.url


def create_llm(assistant: Assistant, endpoint: LLMEndpoint) -> LLMService:
    """The LLM service for one call of ``assistant``.

    Raises:
        RuntimeError: The assistant needs the embedded model and it is not loaded.
    """
    settings = OpenAILLMService.Settings(
        system_instruction=assistant.system_prompt or None,
        temperature=assistant.model.temperature if assistant.model.temperature is not None else 0.4,
    )
    if assistant.model.max_tokens:
        settings.max_tokens = assistant.model.max_tokens
    if endpoint.uses_local(assistant):
        if endpoint.local is None:
            raise RuntimeError(f"assistant '{assistant.name}' needs the embedded LLM, which is not loaded")
        if not assistant.model.max_tokens:
            settings.max_tokens = 120
        return LocalLLMService(model=endpoint.local, settings=settings)
    base_url = assistant.model.url or (
        OPENAI_URL if assistant.model.provider == "openai" and not endpoint.base_url else endpoint.base_url
    )
    settings.model = assistant.model.model or endpoint.model or "gpt-4.1-mini"
    return OpenAILLMService(
        base_url=base_url, api_key=endpoint.api_key or "not-needed", settings=settings
    )
