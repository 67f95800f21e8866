"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1.

Streaming requests (the call's LLM) are answered from ``script`` as SSE; non-streaming
ones (post-call analysis, JSON mode) from ``json_script``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import serve

DEFAULT_REPLY = "Sure, I can help with that. What day works best for you?"
DEFAULT_ANALYSIS = {
    "summary": "The caller asked for help and the assistant answered.",
    "sentiment_score": 0.1,
    "intent": "information",
    "outcome": "interested",
    "objections": [],
    "competitors": [],
    "keywords": [],
    "bant": {"budget": None, "authority": None, "need": None, "timeline": None},
}


@dataclass
class ToolCall:
    """A function call the scripted assistant makes (streamed in OpenAI's ``tool_calls`` format).

    Parameters:
        name: The function name.
        arguments: Its arguments (sent as a JSON string, in pieces, as OpenAI does).
        id: The call id (generated when empty).
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass
class Reply:
    """One scripted answer.

    Parameters:
        text: What the assistant says, streamed a few words per chunk (may be
            empty when the reply only calls tools).
        first_token_delay: Seconds before the first chunk (a slow model).
        status: An HTTP error status to answer instead (e.g. 500).
        tool_calls: Functions the assistant calls after its text.
    """

    text: str = DEFAULT_REPLY
    first_token_delay: float = 0.0
    status: int = 200
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class JsonReply:
    """One scripted non-streaming answer (post-call analysis).

    Parameters:
        body: A dict sent as the message content in JSON, or a raw string (e.g. broken JSON).
        match: Only for a request whose messages contain this text (e.g. a call id).
        status: An HTTP error status to answer instead (e.g. 500).
        delay: Seconds before answering (a slow model, a timeout).
    """

    body: dict[str, Any] | str = field(default_factory=lambda: dict(DEFAULT_ANALYSIS))
    match: str | None = None
    status: int = 200
    delay: float = 0.0


@dataclass
class FakeOpenAI:
    """Answers POST /v1/chat/completions from a script, in OpenAI's wire format.

    Streaming replies are taken from ``script`` in order (when empty, ``DEFAULT_REPLY``);
    a reply the server hangs up on before its end (the caller talked over the turn) is
    put back for the next request. So is a reply sent whole that the conversation dropped
    (the call answered a turn ahead, ``voice.speculation``, and the caller went on, or the
    answer wanted a tool): the next request shows it (:meth:`_put_back_if_dropped`), and
    the dropped request is forgotten. Every other
    streaming request body is kept in ``requests``.
    Non-streaming requests take the first matching :class:`JsonReply` of ``json_script``
    (when none, ``DEFAULT_ANALYSIS``) and are kept in ``json_requests``.
    """

    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    json_script: list[JsonReply] = field(default_factory=list)
    json_requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    # The last scripted reply sent whole, its request and its tool call ids: until the
    # next request shows the conversation took it up.
    _unconfirmed: tuple[Reply, dict[str, Any], list[str]] | None = None

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def reset(self) -> None:
        """Empty scripts and recorded requests: a new test's conversation."""
        self.script.clear()
        self.requests.clear()
        self.json_script.clear()
        self.json_requests.clear()
        self._unconfirmed = None

    def tool_results(self) -> list[dict[str, Any]]:
        """Every ``role: tool`` message the server has been sent (results of the calls it made)."""
        found: dict[str, dict[str, Any]] = {}
        for request in self.requests:
            for message in request.get("messages", []):
                if message.get("role") == "tool":
                    found[message.get("tool_call_id", "")] = message
        return list(found.values())

    def user_messages(self) -> list[str]:
        """The text of every user message the server has been sent, in order of requests."""
        texts = []
        for request in self.requests:
            for message in request.get("messages", []):
                if message.get("role") == "user" and isinstance(message.get("content"), str):
                    texts.append(message["content"])
        return texts

    async def _json_completion(self, body: dict[str, Any]) -> web.Response:
        self.json_requests.append(body)
        text = json.dumps(body.get("messages", []))
        reply = next((r for r in self.json_script if r.match is None or r.match in text), None)
        if reply is None:
            reply = JsonReply()
        else:
            self.json_script.remove(reply)
        await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return web.json_response(
                {"error": {"message": "scripted failure"}}, status=reply.status
            )
        content = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(text) // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": (len(text) + len(content)) // 4,
                },
            }
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return await self._json_completion(body)
        self._put_back_if_dropped(body)
        self.requests.append(body)
        scripted = bool(self.script)
        reply = self.script.pop(0) if self.script else Reply()
        if reply.status != 200:
            return web.json_response(
                {"error": {"message": "scripted failure"}}, status=reply.status
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(reply.first_token_delay)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"

        async def send(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None):
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                chunk["usage"] = usage
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        words = reply.text.split(" ") if reply.text else []
        try:
            await send({"role": "assistant", "content": ""})
        except ConnectionError:
            return response  # the server gave up waiting (a slow-model test): the reply is spent
        try:
            for i in range(0, len(words), 3):
                await send(
                    {"content": " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")}
                )
                await asyncio.sleep(0.01)
            ids = [
                await self._send_tool_call(send, index, call)
                for index, call in enumerate(reply.tool_calls)
            ]
            await send({}, finish="tool_calls" if reply.tool_calls else "stop")
        except ConnectionError:
            # The server hung up mid-reply: the caller went on talking, so the turn was
            # cancelled and nothing of it was acted on. The script's reply is the answer
            # to the turn that does complete.
            self.script.insert(0, reply)
            return response
        if scripted:
            self._unconfirmed = (reply, body, ids)
        await send(
            {},
            usage={
                "prompt_tokens": 10,
                "completion_tokens": len(words),
                "total_tokens": 10 + len(words),
            },
        )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _put_back_if_dropped(self, body: dict[str, Any]) -> None:
        """Serve the last reply again if ``body`` shows its conversation dropped it unheard.

        Dropped: the words it answered came back only as the start of a longer line (they
        were a turn's beginning, asked ahead, and the caller went on), or they came back
        as they were but none of the tools it called answered (the call withdrew it before
        they ran). A request whose conversation never had those words is another call's:
        the reply stands.
        """
        if self._unconfirmed is None:
            return
        reply, request, ids = self._unconfirmed
        self._unconfirmed = None
        asked = [m.get("content") for m in request.get("messages", []) if m.get("role") == "user"]
        if not asked or not isinstance(asked[-1], str) or not asked[-1]:
            return
        said = [
            m["content"]
            for m in body.get("messages", [])
            if m.get("role") == "user" and isinstance(m.get("content"), str)
        ]
        answered = {m.get("tool_call_id") for m in body.get("messages", [])}
        went_on = asked[-1] not in said and any(asked[-1] in line for line in said)
        withdrawn = asked[-1] in said and bool(ids) and not answered.intersection(ids)
        if not (went_on or withdrawn):
            return
        self.script.insert(0, reply)
        if request in self.requests:
            self.requests.remove(request)

    @staticmethod
    async def _send_tool_call(send, index: int, call: ToolCall) -> str:
        """A tool call as OpenAI streams it: id and name first, then the arguments in pieces."""
        call_id = call.id or f"call_{uuid.uuid4().hex[:20]}"
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        await send({"tool_calls": [head]})
        arguments = json.dumps(call.arguments)
        step = max(1, len(arguments) // 3)
        for i in range(0, len(arguments), step):
            await send(
                {
                    "tool_calls": [
                        {"index": index, "function": {"arguments": arguments[i : i + step]}}
                    ]
                }
            )
            await asyncio.sleep(0.005)
        return call_id


async def _serve(port: int) -> None:
    server = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server._completions)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(
        f"Scripted OpenAI-compatible LLM on http://127.0.0.1:{port}/v1 (always: {DEFAULT_REPLY!r})"
    )
    await asyncio.Event().wait()


if __name__ == "__main__":
    import sys

    asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8011))
