"""The LLM layer: which service an assistant gets, and the embedded model streaming for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    FunctionCallResultProperties,
    LLMContextFrame,
    LLMTextFrame,
    TTSSpeakFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import SleepFrame, run_test

from agent.assistant import Assistant
from agent.llm import LLMEndpoint, create_llm
from agent.local_llm import LocalLLMService, LocalModel, ModelFileError, gguf_path
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall


def assistant(**model) -> Assistant:
    return Assistant.model_validate(
        {"name": "t", "model": {"messages": [{"role": "system", "content": "Be brief."}], **model}}
    )


def test_provider_choice():
    remote = LLMEndpoint(base_url="http://llm.local/v1", api_key="k", model="m")
    assert not remote.uses_embedded(assistant()) and remote.uses_embedded(
        assistant(provider="local")
    )
    assert LLMEndpoint().uses_embedded(assistant())
    assert not LLMEndpoint().uses_embedded(assistant(provider="custom-llm", url="http://x/v1"))
    service = create_llm(assistant(model="llama3"), remote)
    assert isinstance(service, OpenAILLMService) and service._settings.model == "llama3"
    with pytest.raises(RuntimeError, match="embedded LLM"):
        create_llm(assistant(provider="local"), remote)


async def test_every_call_on_the_loop_shares_one_connection_pool_and_keeps_no_retries():
    """A client per call cost ~40 ms on the event loop at each call's start (its TLS context)."""
    remote = LLMEndpoint(base_url="http://llm.local/v1", api_key="k", model="m")
    first, second = (create_llm(assistant(model="m"), remote) for _ in range(2))
    assert first._client is not second._client, "each call keeps its own key and URL"
    assert first._client._client is second._client._client
    assert first._client.max_retries == 0
    other = create_llm(assistant(provider="custom-llm", url="http://other.local/v1"), remote)
    assert str(other._client.base_url) == "http://other.local/v1/"
    assert other._client._client is first._client._client


def test_missing_gguf_says_where_to_put_it(tmp_path: Path):
    with pytest.raises(ModelFileError, match=r"big\.gguf.*Place the \.gguf file in"):
        gguf_path("big.gguf", tmp_path)
    assert gguf_path("", tmp_path).name.endswith(".gguf")


@pytest.fixture(scope="module")
def local_model() -> LocalModel:
    return LocalModel.load(gguf_path("", Path("models")), threads=2)


async def test_embedded_model_streams_a_reply(local_model: LocalModel):
    service = create_llm(assistant(maxTokens=20), LLMEndpoint(embedded=local_model))
    assert isinstance(service, LocalLLMService)
    context = LLMContext(messages=[{"role": "user", "content": "Say hello."}])
    down, _ = await run_test(service, frames_to_send=[LLMContextFrame(context=context)])
    text = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert text.strip(), "the embedded model answered"


# The guard: a stalled or failing LLM is retried once after a spoken line, then reported.


def guarded(llm: FakeOpenAI, timeout: float = 1.0):
    endpoint = LLMEndpoint(base_url=llm.url, api_key="test", model="fake", timeout_secs=timeout)
    service = create_llm(assistant(), endpoint, retry_line="One moment.")
    failures: list[BaseException] = []

    @service.event_handler("on_llm_failure")
    async def _failed(_service, error):
        failures.append(error)

    return service, failures


def spoken(frames) -> tuple[list[str], str]:
    said = [f.text for f in frames if isinstance(f, TTSSpeakFrame)]
    return said, "".join(f.text for f in frames if isinstance(f, LLMTextFrame))


@pytest.mark.flaky(reruns=2)
async def test_a_stalled_completion_is_retried_after_a_spoken_line(llm: FakeOpenAI):
    llm.script += [Reply("too late", first_token_delay=2.0), Reply("Here I am.")]
    service, failures = guarded(llm)
    context = LLMContext(messages=[{"role": "user", "content": "Hello?"}])
    down, _ = await run_test(service, frames_to_send=[LLMContextFrame(context=context)])
    assert spoken(down) == (["One moment."], "Here I am.")
    assert not failures and len(llm.requests) == 2


async def test_two_failures_fire_on_llm_failure_without_hidden_retries(llm: FakeOpenAI):
    llm.script += [Reply(status=500), Reply(status=503)]
    service, failures = guarded(llm)
    context = LLMContext(messages=[{"role": "user", "content": "Hello?"}])
    down, _ = await run_test(service, frames_to_send=[LLMContextFrame(context=context)])
    assert spoken(down) == (["One moment."], "")
    assert len(failures) == 1 and getattr(failures[0], "status_code", None) == 503
    assert len(llm.requests) == 2, "the OpenAI SDK's own retries are off"


async def test_caller_words_with_no_answer_between_reach_the_llm_as_one_message(llm: FakeOpenAI):
    # A turn that ended at a pause ("... for next.") and went on ("Tuesday.") before the
    # bot said anything: one thing said, one message; answered turns stay apart.
    llm.script.append(Reply("Tuesday works."))
    service, _ = guarded(llm)
    context = LLMContext(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello."},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": "I would like an appointment for next."},
            {"role": "user", "content": "Tuesday."},
            {"role": "user", "content": " "},
        ]
    )
    await run_test(service, frames_to_send=[LLMContextFrame(context=context)])
    sent = [(m["role"], m["content"]) for m in llm.requests[0]["messages"]]
    assert sent[-3:] == [
        ("user", "Hello."),
        ("assistant", "Hi, how can I help?"),
        ("user", "I would like an appointment for next. Tuesday."),
    ]
    assert len(context.get_messages()) == 4, "the call's context keeps them joined"


async def test_streamed_tool_calls_run_their_handler(llm: FakeOpenAI):
    llm.script.append(
        Reply(
            "Let me book that.",
            tool_calls=[ToolCall("book_appointment", {"start": "2026-03-03T10:00"})],
        )
    )
    service, _ = guarded(llm)
    calls: list[dict] = []

    async def handler(params: FunctionCallParams) -> None:
        calls.append(dict(params.arguments))
        await params.result_callback(
            "booked", properties=FunctionCallResultProperties(run_llm=False)
        )

    schema = FunctionSchema(
        "book_appointment", "Book", {"start": {"type": "string"}}, ["start"], handler=handler
    )
    context = LLMContext(
        messages=[{"role": "user", "content": "Book Tuesday."}], tools=ToolsSchema([schema])
    )
    down, _ = await run_test(
        service, frames_to_send=[LLMContextFrame(context=context), SleepFrame(0.3)]
    )
    assert calls == [{"start": "2026-03-03T10:00"}]
    assert spoken(down)[1] == "Let me book that."
    assert [t["function"]["name"] for t in llm.requests[0]["tools"]] == ["book_appointment"]
