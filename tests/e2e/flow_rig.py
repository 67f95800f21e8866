"""The seeds' whole flows: a real server (SQLite or PostgreSQL), fake Twilio, LLM and webhooks."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import (
    ROOT,
    ServerProcess,
    _create_postgres_database,
    _drop_postgres_database,
    start_scripted_server,
)
from tests.fakes.openai_server import FakeOpenAI, JsonReply
from tests.fakes.signatures import signature_problem
from tests.fakes.twilio_rest import FakeCall, FakeTwilio
from tests.fakes.webhook_receiver import Received, WebhookReceiver

SECRET = "flows-webhook-secret"
LINE = "+15555550400"  # the number callers ring; the flows assistant answers it
HUMAN = "+15555550499"  # the salesperson transfers go to
NOTICE = "This call is recorded."
ALWAYS = {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]}
ASSISTANT = {
    "name": "flows",
    "firstMessage": "Hi, this is Fibra Rapida.",
    "recordingNotice": NOTICE,
    "model": {
        "messages": [{"role": "system", "content": "You sell fiber internet. Be brief."}],
        "maxTokens": 60,
        "tools": [
            {"type": "function", "function": {"name": "lookup_lead"}},
            {"type": "function", "function": {"name": "update_lead"}},
            {"type": "function", "function": {"name": "schedule_callback"}},
            {
                "type": "transferCall",
                "destinations": [
                    {"type": "number", "number": HUMAN, "message": "Connecting you to sales now."}
                ],
            },
            {"type": "endCall"},
        ],
    },
    "phoneNumbers": [LINE],
    "variableValues": {"timezone": "America/New_York"},
}
# Answers a test gives an outbound call when it is picked up: (the call, its TwiML).
Answer = Callable[[FakeCall, str], Awaitable[None]]


@dataclass
class Flow:
    """A running server and the outside world it talks to."""

    server: ServerProcess
    twilio: FakeTwilio
    receiver: WebhookReceiver
    llm: FakeOpenAI
    answers: list[Answer] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.api_key}"}

    async def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """Call the admin API; returns the JSON answer (asserting a 2xx)."""
        async with aiohttp.ClientSession(headers=self.headers) as http:
            kwargs = kwargs | ({"json": body} if body is not None else {})
            async with http.request(method, self.server.url + path, **kwargs) as response:
                answer = await response.json()
                assert response.status < 300, (method, path, response.status, answer)
                return answer

    async def lead(self, phone: str) -> dict[str, Any]:
        """A lead with its detail (tasks, notes, stage history), found by phone."""
        [found] = (await self.api("GET", f"/api/leads?q={phone.replace('+', '%2B')}"))["data"]
        return await self.api("GET", f"/api/leads/{found['id']}")

    def caller(self, phone: str) -> CallSimulator:
        """Someone ringing our line from ``phone``."""
        return CallSimulator(
            self.server.url,
            auth_token=self.twilio.auth_token,
            from_number=phone,
            to_number=LINE,
        )

    def analysis_for(self, call_id: str, body: dict[str, Any]) -> None:
        """The post-call analysis the LLM gives this call."""
        self.llm.json_script.append(JsonReply(body, match=call_id))

    async def analysed(self, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The call from the API once its analysis (and rules) are done."""
        deadline = time.monotonic() + timeout
        while True:
            body = await self.server.call(call_id)
            if body["analysisStatus"] in ("done", "fallback", "failed"):
                return body
            assert time.monotonic() < deadline, body["analysisStatus"]
            await asyncio.sleep(0.3)

    async def webhook(self, event: str, timeout: float = 30.0) -> Received:
        """The first accepted delivery of ``event``, checked to be signed with our secret."""
        deadline = time.monotonic() + timeout
        while True:
            for received in self.receiver.accepted:
                if received.headers.get("X-Phoneagent-Event") == event:
                    problem = signature_problem(SECRET, received.headers, received.body)
                    assert problem is None, problem
                    return received
            assert time.monotonic() < deadline, [
                r.headers.get("X-Phoneagent-Event") for r in self.receiver.received
            ]
            await asyncio.sleep(0.1)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.3)


def say(text: str) -> bytes:
    """A caller's line, synthesized."""
    return speech_ulaw(text)


async def answered_by(flow: Flow, call: FakeCall, twiml: str, line: str, analysis: dict) -> None:
    """An outbound call picked up: the callee hears the greeting, says ``line``, hangs up."""
    simulator = CallSimulator(
        flow.server.url, auth_token=flow.twilio.auth_token, direction="outbound-api"
    )
    await simulator.connect(twiml)
    try:
        flow.analysis_for(simulator.call_id, analysis)
        await simulator.wait_for_bot()
        await simulator.say(say(line), line)
    finally:
        await simulator.hang_up()


@dataclass
class Setup:
    """What differs between the flows' servers."""

    scoring: str = "scoring/default.json"
    rules: str = "rules"
    campaigns: tuple[str, ...] = ()


async def start_flow(
    tmp: Path, database: str, llm: FakeOpenAI, setup: Setup
) -> AsyncIterator[Flow]:
    """Serve the flows assistant on ``database`` (``sqlite`` or ``postgresql``)."""
    url = (
        f"sqlite:///{tmp / 'flows.db'}"
        if database == "sqlite"
        else await _create_postgres_database()
    )
    assistants, campaigns = tmp / "assistants", tmp / "campaigns"
    assistants.mkdir()
    campaigns.mkdir()
    (assistants / "flows.json").write_text(json.dumps(ASSISTANT))
    (assistants / "default.json").write_text((ROOT / "assistants" / "default.json").read_text())
    for name in setup.campaigns:
        shutil.copy(ROOT / "campaigns" / "examples" / name, campaigns / name)
    twilio = FakeTwilio()
    receiver = await WebhookReceiver(secret=SECRET).start()
    flow: Flow | None = None

    async def answer(call: FakeCall, twiml: str) -> None:
        assert flow is not None and flow.answers, f"nobody expected a call to {call.to}"
        await flow.answers.pop(0)(call, twiml)

    twilio.on_answer = answer
    await twilio.start()
    server = None
    try:
        server = await start_scripted_server(
            tmp,
            llm,
            database_url=url,
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_API_BASE_URL=twilio.url,
            TWILIO_FROM_NUMBER="+15555550000",
            DIALER_TICK_SECS="0.3",
            ASSISTANTS_DIR=str(assistants),
            CAMPAIGNS_DIR=str(campaigns),
            SCORING_FILE=str(ROOT / setup.scoring),
            RULES_DIR=str(ROOT / setup.rules),
            WEBHOOK_URLS=f"{receiver.url}/crm",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_RETRY_BASE_SECONDS="0.2",
        )
        flow = Flow(server, twilio, receiver, llm)
        yield flow
    finally:
        if server:
            server.stop()
        await twilio.stop()
        await receiver.stop()
        if database == "postgresql":
            await _drop_postgres_database(url)
