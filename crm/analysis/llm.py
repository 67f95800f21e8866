"""Analysis by an OpenAI-compatible LLM in JSON mode."""

from __future__ import annotations

from dataclasses import dataclass

import openai
from openai import AsyncOpenAI

from crm.analysis.llm_reply import InvalidReply, LLMReply, parse_reply
from crm.analysis.plan import AnalysisPlan
from crm.analysis.prompt import system_prompt, user_prompt
from crm.analysis.transcript import CallFacts, Transcript


class LLMUnavailable(RuntimeError):
    """The LLM could not be reached, refused, or answered something unusable."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the analysis LLM is.

    Parameters:
        base_url: An OpenAI-compatible base URL (LLM_BASE_URL).
        api_key: Its key (LLM_API_KEY); many local servers accept any.
        model: Model name (ANALYSIS_MODEL, else LLM_MODEL).
        timeout: Seconds for the whole request.
    """

    base_url: str
    api_key: str = ""
    model: str = ""
    timeout: float = 30.0


class LLMAnalyzer:
    """Asks the LLM for the analysis JSON; one request per call."""

    def __init__(self, settings: LLMSettings):
        """Create the client (no request is made until :meth:`analyze`)."""
        self.settings = settings
        self._client = AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout,
            max_retries=1,
        )
        self._json_mode = True

    async def analyze(
        self, facts: CallFacts, transcript: Transcript, plan: AnalysisPlan
    ) -> LLMReply:
        """The validated analysis of one call.

        Raises:
            LLMUnavailable: Unreachable, an error status, a timeout, or invalid JSON.
        """
        messages = [
            {"role": "system", "content": system_prompt(plan, facts)},
            {"role": "user", "content": user_prompt(facts, transcript)},
        ]
        content = await self._complete(messages)
        try:
            return parse_reply(content)
        except InvalidReply as e:
            raise LLMUnavailable(str(e)) from None

    async def _complete(self, messages: list[dict[str, str]]) -> str | None:
        kwargs = {
            "model": self.settings.model or "gpt-4.1-mini",
            "messages": messages,
            "temperature": 0,
        }
        try:
            if self._json_mode:
                try:
                    return await self._create(kwargs | {"response_format": {"type": "json_object"}})
                except openai.BadRequestError as e:
                    if "response_format" not in str(e):
                        raise
                    self._json_mode = (
                        False  # this server has no JSON mode; the prompt asks for JSON
                    )
            return await self._create(kwargs)
        except openai.APITimeoutError:
            raise LLMUnavailable(f"no answer within {self.settings.timeout:.0f} s") from None
        except openai.APIStatusError as e:
            raise LLMUnavailable(f"HTTP {e.status_code} from {self.settings.base_url}") from None
        except openai.APIError as e:
            raise LLMUnavailable(f"{e.__class__.__name__}: {e}") from None

    async def _create(self, kwargs: dict) -> str | None:
        response = await self._client.chat.completions.create(**kwargs)
        if not response.choices:
            raise LLMUnavailable("the answer has no choices")
        return response.choices[0].message.content

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
