"""The LLM layer: which service an assistant gets, and the embedded model streaming for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipecat.frames.frames import LLMContextFrame, LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import run_test

from agent.assistant import Assistant
from agent.llm import LLMEndpoint, create_llm
from agent.local_llm import LocalLLMService, LocalModel, ModelFileError, gguf_path


def assistant(**model) -> Assistant:
    return Assistant.model_validate({"name": "t", "model": {"messages": [{"role": "system", "content": "Be brief."}], **model}})


def test_provider_choice():
    remote = LLMEndpoint(base_url="http://llm.local/v1", api_key="k", model="m")
    assert not remote.uses_local(assistant()) and remote.uses_local(assistant(provider="local"))
    assert LLMEndpoint().uses_local(assistant())
    assert not LLMEndpoint().uses_local(assistant(provider="custom-llm", url="http://x/v1"))
    service = create_llm(assistant(model="llama3"), remote)
    assert isinstance(service, OpenAILLMService) and service._settings.model == "llama3"
    with pytest.raises(RuntimeError, match="embedded LLM"):
        create_llm(assistant(provider="local"), remote)


def test_missing_gguf_says_where_to_put_it(tmp_path: Path):
    with pytest.raises(ModelFileError, match=r"big\.gguf.*Place the \.gguf file in"):
        gguf_path("big.gguf", tmp_path)
    assert gguf_path("", tmp_path).name.endswith(".gguf")


@pytest.fixture(scope="module")
def local_model() -> LocalModel:
    return LocalModel.load(gguf_path("", Path("models")), threads=2)


async def test_embedded_model_streams_a_reply(local_model: LocalModel):
    service = create_llm(assistant(maxTokens=20), LLMEndpoint(local=local_model))
    assert isinstance(service, LocalLLMService)
    context = LLMContext(messages=[{"role": "user", "content": "Say hello."}])
    down, _ = await run_test(service, frames_to_send=[LLMContextFrame(context=context)])
    text = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert text.strip(), "the embedded model answered"
