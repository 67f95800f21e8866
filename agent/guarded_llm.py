"""pipecat's OpenAI service made safe for calls: a stalled or failing LLM never means silence."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

from loguru import logger
from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from openai.types.chat import ChatCompletionChunk
from pipecat.frames.frames import EagerEndOfTurnCancelFrame, TTSSpeakFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.utils.http import connection_limits

_http_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DefaultAsyncHttpxClient] = (
    weakref.WeakKeyDictionary()
)


def http_client() -> DefaultAsyncHttpxClient:
    """The connection pool every call's LLM service on this event loop shares.

    pipecat gives each service, so each call, an HTTP client of its own: ~40 ms at
    every call's start building its TLS context (the CA bundle is read and parsed),
    on the event loop, while every other call's audio waits; and its connections stay
    open until the client is collected. Outside an event loop (a service built in a
    plain function), a client of its own.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _new_http_client()
    client = _http_clients.get(loop)
    if client is None or client.is_closed:
        client = _http_clients[loop] = _new_http_client()
    return client


def _new_http_client() -> DefaultAsyncHttpxClient:
    # pipecat's own limits for its OpenAI clients.
    limits = connection_limits(
        max_keepalive_connections=100, max_connections=1000, keepalive_expiry=None
    )
    return DefaultAsyncHttpxClient(limits=limits)


def _has_output(chunk: ChatCompletionChunk) -> bool:
    if not chunk.choices:
        return False
    delta = chunk.choices[0].delta
    return bool(delta and (delta.content or delta.tool_calls))


def describe(error: BaseException) -> str:
    """A short description of an LLM failure for logs (no request content)."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    status = getattr(error, "status_code", None)
    return f"HTTP {status}" if status else f"{type(error).__name__}: {error}"


def join_unanswered_turns(messages: list[Any]) -> list[Any]:
    """The conversation with each run of caller messages that got no answer as one message.

    A caller who pauses mid-sentence ("... for next" | "Tuesday") can have their turn
    end at the pause; when they go on before the bot said anything, the context holds
    two user messages in a row. The LLM reads them as one thing said, as it was. Only
    plain-text messages are joined; the dicts in ``messages`` are not changed.
    """
    joined: list[Any] = []
    for message in messages:
        previous = joined[-1] if joined else None
        if _plain_user(message) and _plain_user(previous):
            text = f"{previous['content']} {message['content']}".strip()
            joined[-1] = {**previous, "content": text}
        else:
            joined.append(message)
    return joined


def _plain_user(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "user"
        and isinstance(message.get("content"), str)
    )


class GuardedLLMService(OpenAILLMService):
    """An OpenAI-compatible LLM with a deadline on every chunk and one spoken retry.

    A completion that sends nothing for ``timeout_secs`` (before its first chunk or
    between chunks), or fails, is retried once after the caller hears
    ``retry_line``. If the retry fails too, ``on_llm_failure`` fires and the call's
    owner ends the call gracefully. A completion that fails after it started
    answering keeps what it said; it is not repeated. The OpenAI client's own
    retries are off: they would hold the caller in silence. A speculative completion
    (answering ahead of a turn that has not ended, ``voice.speculation``) that fails
    is withdrawn without a word; the turn, once it ends, asks again. Caller messages
    that no answer came between are sent as one (:func:`join_unanswered_turns`).

    Events:
        on_llm_failure(service, error): the completion and its retry both failed.
    """

    def __init__(self, *, timeout_secs: float = 10.0, retry_line: str = "", **kwargs):
        """Create the service for one call.

        Args:
            timeout_secs: Longest wait for the stream to open and for each chunk.
            retry_line: Said before the retry ("Sorry, give me just a moment.").
            **kwargs: Passed to pipecat's ``OpenAILLMService``.
        """
        super().__init__(**kwargs)
        self._timeout_secs = timeout_secs
        self.retry_line = retry_line  # a bilingual call changes it with its language
        self._produced = False
        self._late_results: dict[str, str] = {}
        self._register_event_handler("on_llm_failure")

    def settle_late(self, tool_call_id: str, result: Any) -> None:
        """Record the result of a tool call that the caller interrupted.

        pipecat settles an interrupted call as ``CANCELLED`` in the context, but our
        tools run to the end (a booking is made whether or not the caller spoke over
        the filler). Before the next completion, the tool message says what happened.
        """
        self._late_results[tool_call_id] = (
            json.dumps(result, ensure_ascii=False) if result else "COMPLETED"
        )

    def _apply_late_results(self, context: LLMContext) -> None:
        if not self._late_results:
            return
        for message in context.get_messages():
            if not isinstance(message, dict) or message.get("role") != "tool":
                continue
            content = self._late_results.get(message.get("tool_call_id") or "")
            if content is not None and message.get("content") in ("CANCELLED", "IN_PROGRESS"):
                message["content"] = content
                self._late_results.pop(message["tool_call_id"])

    def create_client(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: dict[str, str] | None = None,
        **kwargs,
    ) -> AsyncOpenAI:
        """pipecat's client on the shared connection pool, without the SDK's silent retries."""
        return AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            default_headers=default_headers,
            http_client=http_client(),
            max_retries=0,
        )

    async def open_stream(self, context: LLMContext) -> Any:
        """Start a streaming completion (subclasses change where chunks come from)."""
        return await super().get_chat_completions(context)

    async def get_chat_completions(self, context: LLMContext) -> AsyncIterator[ChatCompletionChunk]:
        """The completion stream, watched: each wait is bounded by ``timeout_secs``."""
        stream = await asyncio.wait_for(self.open_stream(context), self._timeout_secs)
        return self._watched(stream)

    async def _watched(self, stream: Any) -> AsyncIterator[ChatCompletionChunk]:
        chunks = stream.__aiter__()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(chunks.__anext__(), self._timeout_secs)
                except StopAsyncIteration:
                    return
                self._produced = self._produced or _has_output(chunk)
                yield chunk
        finally:
            for closer in (getattr(chunks, "aclose", None), getattr(stream, "close", None)):
                if closer is not None:
                    try:
                        await closer()
                    except Exception:  # closing a broken stream may fail again
                        pass

    async def _process_context(self, context: LLMContext):
        self._apply_late_results(context)
        context.transform_messages(join_unanswered_turns)
        for attempt in (1, 2):
            self._produced = False
            try:
                await super()._process_context(context)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self._speculation_gate.is_speculating:
                    # Answering ahead of a turn that has not ended: nothing was said and
                    # nothing is lost. Withdrawn, the confirmed turn asks again (with
                    # the retry) instead of a caller hearing a retry line mid-sentence.
                    logger.debug(f"{self}: speculative completion failed ({describe(e)})")
                    await self.broadcast_frame(EagerEndOfTurnCancelFrame)
                    return
                if self._produced:
                    logger.warning(
                        f"{self}: completion broke off after it started ({describe(e)}); keeping it"
                    )
                    return
                logger.warning(f"{self}: completion failed ({describe(e)}), attempt {attempt} of 2")
                if attempt == 1:
                    if self.retry_line:
                        await self.push_frame(
                            TTSSpeakFrame(self.retry_line, append_to_context=False)
                        )
                    continue
                await self._call_event_handler("on_llm_failure", e)
