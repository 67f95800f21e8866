"""A fake VAPI on 127.0.0.1: its REST API, and calls that report back to the server URL like VAPI.

REST, in VAPI's documented shapes (https://docs.vapi.ai/api-reference): ``POST /assistant``,
``PATCH /assistant/{id}``, ``GET /assistant``, ``GET /assistant/{id}``, ``POST /call``,
``GET /call/{id}``, with ``Authorization: Bearer <private key>``; errors as
``{"message": [...], "error": "Bad Request", "statusCode": 400}``.

After ``POST /call`` it plays the call through the assistant's server URL with the
assistant's ``server.secret`` in ``X-Vapi-Secret`` (https://docs.vapi.ai/server-url/events):
``status-update`` (ringing, in-progress), the scripted conversation with
``conversation-update`` after each line and ``tool-calls`` for each scripted tool,
``status-update`` ended, then ``end-of-call-report`` (sent ``report_copies`` times, as
VAPI retries). A ``POST /call`` with ``phoneCallProviderBypassEnabled`` answers the TwiML
that bridges an existing Twilio call to VAPI (``phoneCallProviderDetails.twiml``) instead.
``POST /control/{id}`` stands for each call's ``monitor.controlUrl``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes import CallingBack

# A scripted line: ("user" | "assistant", text) or ("tool", name, arguments).
Step = tuple[Any, ...]

DEFAULT_SCRIPT: list[Step] = [
    ("assistant", "Hi, this is Alex from Sunrise Resorts. Is now a good time?"),
    ("user", "Yes, how much does a two bedroom villa cost? I am very interested."),
    ("assistant", "It starts at 300 thousand dollars. Would you like to visit?"),
    ("user", "Yes please, book me a visit next Tuesday."),
]


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class EventReply:
    """What our server answered to one server message."""

    type: str
    status: int
    body: Any


@dataclass
class FakeVapi(CallingBack):
    """The fake VAPI. ``scenarios`` maps a customer number to ``answer`` or ``no-answer``."""

    api_key: str = "vapi-private-key"
    script: list[Step] = field(default_factory=lambda: list(DEFAULT_SCRIPT))
    scenarios: dict[str, str] = field(default_factory=dict)
    ended_reason: str = "customer-ended-call"
    report_copies: int = 1
    play_calls: bool = True
    requests: list[Recorded] = field(default_factory=list)
    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: list[EventReply] = field(default_factory=list)
    control: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _http: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/assistant", self._create_assistant)
        app.router.add_get("/assistant", self._list_assistants)
        app.router.add_patch("/assistant/{id}", self._update_assistant)
        app.router.add_get("/assistant/{id}", self._get_assistant)
        app.router.add_post("/call", self._create_call)
        app.router.add_get("/call/{id}", self._get_call)
        app.router.add_post("/control/{id}", self._control)

    def reset(self) -> None:
        self.requests.clear()
        self.assistants.clear()
        self.calls.clear()
        self.replies.clear()
        self.control.clear()
        self.scenarios.clear()
        self.script = list(DEFAULT_SCRIPT)
        self.ended_reason = "customer-ended-call"
        self.report_copies = 1
        self.play_calls = True

    # REST API

    @staticmethod
    def _error(status: int, message: str | list[str]) -> web.Response:
        names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
        messages = message if isinstance(message, list) else [message]
        return web.json_response(
            {"message": messages, "error": names.get(status, "Error"), "statusCode": status},
            status=status,
        )

    async def _record(self, request: web.Request) -> tuple[Any, web.Response | None]:
        body = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                self.requests.append(
                    Recorded(
                        request.method, request.path_qs, None, request.headers.get("Authorization")
                    )
                )
                return None, self._error(400, "body must be JSON")
        self.requests.append(
            Recorded(request.method, request.path_qs, body, request.headers.get("Authorization"))
        )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return body, self._error(
                401,
                "Invalid Key. Hot tip, you may be using the private key instead of the public "
                "key, or vice versa.",
            )
        return body, None

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @staticmethod
    def _assistant_problems(body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["assistant must be an object"]
        problems = []
        for key in ("phoneNumbers", "provider", "vapi", "variableValues"):
            if key in body:
                problems.append(f"property {key} should not exist")
        if len(str(body.get("name", ""))) > 40:
            problems.append("name must be shorter than or equal to 40 characters")
        model = body.get("model") or {}
        if model.get("provider") in (None, "", "local"):
            problems.append(
                "model.provider must be one of the following values: "
                "openai, anthropic, groq, custom-llm, ..."
            )
        if (body.get("voice") or {}).get("provider") in (None, "piper"):
            problems.append("voice.provider must be a VAPI voice provider")
        if (body.get("transcriber") or {}).get("provider") in (None, "faster-whisper"):
            problems.append("transcriber.provider must be a VAPI transcriber provider")
        return problems

    async def _create_assistant(self, request: web.Request) -> web.Response:
        body, refused = await self._record(request)
        if refused:
            return refused
        problems = self._assistant_problems(body)
        if problems:
            return self._error(400, problems)
        assistant = {
            **body,
            "id": str(uuid.uuid4()),
            "orgId": "org-1",
            "createdAt": self._now(),
            "updatedAt": self._now(),
        }
        self.assistants[assistant["id"]] = assistant
        return web.json_response(assistant, status=201)

    async def _update_assistant(self, request: web.Request) -> web.Response:
        body, refused = await self._record(request)
        if refused:
            return refused
        existing = self.assistants.get(request.match_info["id"])
        if existing is None:
            return self._error(404, "Couldn't Find Assistant")
        problems = self._assistant_problems(body)
        if problems:
            return self._error(400, problems)
        existing.update(body, updatedAt=self._now())
        return web.json_response(existing)

    async def _list_assistants(self, request: web.Request) -> web.Response:
        _, refused = await self._record(request)
        return refused or web.json_response(list(reversed(self.assistants.values())))

    async def _get_assistant(self, request: web.Request) -> web.Response:
        _, refused = await self._record(request)
        if refused:
            return refused
        found = self.assistants.get(request.match_info["id"])
        return web.json_response(found) if found else self._error(404, "Couldn't Find Assistant")

    async def _create_call(self, request: web.Request) -> web.Response:
        body, refused = await self._record(request)
        if refused:
            return refused
        problems = []
        if not isinstance(body, dict):
            return self._error(400, "call must be an object")
        if not body.get("phoneNumberId"):
            problems.append("phoneNumberId must be a string")
        if not (body.get("customer") or {}).get("number"):
            problems.append("customer.number must be a valid phone number in the E.164 format")
        if not body.get("assistantId") and not body.get("assistant"):
            problems.append("assistantId or assistant is required")
        if body.get("assistantId") and body["assistantId"] not in self.assistants:
            problems.append("Couldn't Find Assistant")
        if problems:
            return self._error(400, problems)
        call_id = str(uuid.uuid4())
        call = {
            "id": call_id,
            "orgId": "org-1",
            "type": "outboundPhoneCall",
            "status": "queued",
            "createdAt": self._now(),
            "updatedAt": self._now(),
            "phoneNumberId": body["phoneNumberId"],
            "customer": body["customer"],
            "metadata": body.get("metadata") or {},
            "monitor": {
                "controlUrl": f"{self.url}/control/{call_id}",
                "listenUrl": f"wss://example.invalid/{call_id}",
            },
            **({"assistantId": body["assistantId"]} if body.get("assistantId") else {}),
            **(
                {"assistantOverrides": body["assistantOverrides"]}
                if body.get("assistantOverrides")
                else {}
            ),
        }
        if body.get("phoneCallProviderBypassEnabled"):
            # VAPI dials nothing: the TwiML that bridges an existing Twilio call in comes back
            # (https://github.com/VapiAI/example-phone-call-provider-bypass).
            stream = f"wss://phone-call-websocket.vapi.invalid/{call_id}/transport"
            call |= {
                "type": "inboundPhoneCall",
                "phoneCallProviderBypassEnabled": True,
                "phoneCallProviderDetails": {
                    "twiml": '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
                    f'<Stream url="{stream}"/></Connect></Response>'
                },
            }
            self.calls[call_id] = call
            return web.json_response(call, status=201)
        self.calls[call_id] = call
        assistant = self.assistants.get(body.get("assistantId", "")) or body.get("assistant") or {}
        if self.play_calls:
            self.spawn(self._play(call, assistant))
        return web.json_response(call, status=201)

    async def _get_call(self, request: web.Request) -> web.Response:
        _, refused = await self._record(request)
        if refused:
            return refused
        found = self.calls.get(request.match_info["id"])
        return web.json_response(found) if found else self._error(404, "Couldn't Find Call")

    async def _control(self, request: web.Request) -> web.Response:
        self.control.append((request.match_info["id"], await request.json()))
        return web.json_response({})

    # Playing a call through the server URL

    async def send(self, server: dict[str, Any], message: dict[str, Any]) -> EventReply:
        """POST one server message to ``server['url']`` with its secret; the reply is recorded."""
        assert self._http is not None
        headers = {"X-Vapi-Secret": server["secret"]} if server.get("secret") else {}
        body = {"message": {"timestamp": int(time.time() * 1000), **message}}
        async with self._http.post(server["url"], json=body, headers=headers) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = await response.text()
        reply = EventReply(message["type"], response.status, data)
        self.replies.append(reply)
        return reply

    async def _play(self, call: dict[str, Any], assistant: dict[str, Any]) -> None:
        server = assistant.get("server") or {}
        if not server.get("url"):
            return
        common = {"call": call, "customer": call["customer"], "assistant": assistant}
        await asyncio.sleep(0.05)
        call["status"] = "ringing"
        await self.send(server, {"type": "status-update", "status": "ringing", **common})
        if self.scenarios.get(call["customer"]["number"]) == "no-answer":
            call.update(status="ended", endedReason="customer-did-not-answer")
            await self.send(
                server,
                {
                    "type": "status-update",
                    "status": "ended",
                    "endedReason": "customer-did-not-answer",
                    **common,
                },
            )
            await self._report(server, common, [], "customer-did-not-answer", started=None)
            return
        started = self._now()
        call.update(status="in-progress", startedAt=started)
        await self.send(server, {"type": "status-update", "status": "in-progress", **common})
        messages: list[dict[str, Any]] = []
        t0 = time.time()
        for step in self.script:
            now_ms = int(time.time() * 1000)
            seconds = round(time.time() - t0, 3)
            if step[0] == "tool":
                tool_id = f"call_{uuid.uuid4().hex[:12]}"
                function = {"name": step[1], "arguments": json.dumps(step[2])}
                reply = await self.send(
                    server,
                    {
                        "type": "tool-calls",
                        **common,
                        "toolCallList": [{"id": tool_id, "type": "function", "function": function}],
                    },
                )
                result = (
                    ((reply.body or {}).get("results") or [{}])[0]
                    if isinstance(reply.body, dict)
                    else {}
                )
                messages.append(
                    {
                        "role": "tool_calls",
                        "time": now_ms,
                        "secondsFromStart": seconds,
                        "toolCalls": [{"id": tool_id, "type": "function", "function": function}],
                    }
                )
                messages.append(
                    {
                        "role": "tool_call_result",
                        "time": now_ms,
                        "secondsFromStart": seconds,
                        "toolCallId": tool_id,
                        "name": step[1],
                        "result": result.get("result", result.get("error", "")),
                    }
                )
                continue
            role = "bot" if step[0] == "assistant" else "user"
            messages.append(
                {
                    "role": role,
                    "message": step[1],
                    "time": now_ms,
                    "endTime": now_ms + 1500,
                    "secondsFromStart": seconds,
                    "duration": 1500,
                }
            )
            await self.send(
                server, {"type": "conversation-update", **common, "messages": list(messages)}
            )
        call.update(status="ended", endedReason=self.ended_reason, endedAt=self._now())
        await self.send(
            server,
            {
                "type": "status-update",
                "status": "ended",
                "endedReason": self.ended_reason,
                **common,
            },
        )
        await self._report(server, common, messages, self.ended_reason, started=started)

    async def _report(
        self,
        server: dict[str, Any],
        common: dict[str, Any],
        messages: list[dict[str, Any]],
        reason: str,
        started: str | None,
    ) -> None:
        lines = [m for m in messages if m["role"] in ("user", "bot")]
        transcript = "".join(
            f"{'User' if m['role'] == 'user' else 'AI'}: {m['message']}\n" for m in lines
        )
        call_id = common["call"]["id"]
        report = {
            "type": "end-of-call-report",
            **common,
            "endedReason": reason,
            "cost": 0.1234,
            "startedAt": started,
            "endedAt": self._now(),
            "durationSeconds": 12.5 if started else 0,
            "artifact": {
                "messages": messages,
                "transcript": transcript,
                "recordingUrl": f"https://storage.vapi.example/{call_id}-mono.wav"
                if started
                else None,
            },
            "analysis": {
                "summary": "The caller asked about villa prices and booked a visit."
                if started
                else ""
            },
        }
        for _ in range(self.report_copies):
            await self.send(server, report)
