"""Two real server instances on one PostgreSQL behind nginx: calls, live-call commands, dialer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from telephony.simulator import CallSimulator
from tests.conftest import (
    ServerProcess,
    _create_postgres_database,
    _drop_postgres_database,
    free_port,
    start_server,
)
from tests.e2e.load_balancer import Nginx
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.openai_server import ToolCall as ScriptedCall
from tests.fakes.twilio_rest import FakeTwilio

pytestmark = pytest.mark.slow

GREETING = "Hello, this is the clinic."
VOICEMAIL = "Please call the clinic back. Goodbye."


@dataclass
class Pair:
    """Two instances, the load balancer in front of them, and the fake Twilio they use."""

    nginx: Nginx
    servers: tuple[ServerProcess, ServerProcess]
    twilio: FakeTwilio

    async def live_calls(self) -> list[int]:
        """How many calls each instance holds now (its /healthz)."""
        return [(await s.get_json("/healthz"))[1]["liveCalls"] for s in self.servers]

    async def api(self, method: str, path: str, **kwargs) -> dict:
        """The admin API through the load balancer (any instance answers)."""
        headers = {"Authorization": f"Bearer {self.servers[0].api_key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.request(method, self.nginx.url + path, **kwargs) as response:
                assert response.status < 300, await response.text()
                return await response.json()


@pytest.fixture(scope="module")
async def pair(fake_llm: FakeOpenAI, tmp_path_factory) -> AsyncIterator[Pair]:
    tmp = tmp_path_factory.mktemp("two-instances")
    assistants = tmp / "assistants"
    assistants.mkdir()
    assistant = {"name": "default", "firstMessage": GREETING, "voicemailMessage": VOICEMAIL}
    assistant["model"] = {"messages": [{"role": "system", "content": "Be brief."}]}
    assistant["model"]["tools"] = [{"type": "dtmf"}]
    (assistants / "default.json").write_text(json.dumps(assistant))
    database_url = await _create_postgres_database()
    twilio = await FakeTwilio().start()
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",  # Twilio reaches the balancer
        "SECRET_KEY": "one-stream-token-key-for-both",
        "VAPI_SECRET": "vapi-secret",
        "WEBHOOK_SECRET": "webhook-secret",
        "LLM_BASE_URL": fake_llm.url,
        "LLM_API_KEY": "test",
        "LLM_MODEL": "fake-model",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_API_BASE_URL": twilio.url,
        "TWILIO_FROM_NUMBER": "+15555550000",
        "DIALER_TICK_SECS": "0.3",
        "SIP_ENABLED": "false",
        "ASSISTANTS_DIR": str(assistants),
        "LOG_LEVEL": "INFO",
    }
    # Both start at once on the fresh database: their migrations take turns.
    servers = await asyncio.gather(
        start_server(tmp, DIALER_INSTANCE="a", **env), start_server(tmp, DIALER_INSTANCE="b", **env)
    )
    nginx = Nginx(tmp / "nginx", port, [s.url.removeprefix("http://") for s in servers])
    try:
        await nginx.start()
        yield Pair(nginx, (servers[0], servers[1]), twilio)
    finally:
        nginx.stop()
        for server in servers:
            server.stop()
        await twilio.stop()
        await _drop_postgres_database(database_url)


async def _wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)
    return result


async def test_calls_spread_over_both_and_an_amd_result_on_the_other_instance_is_honoured(
    pair: Pair,
):
    first = CallSimulator(pair.nginx.url, auth_token=pair.twilio.auth_token)
    second = CallSimulator(pair.nginx.url, auth_token=pair.twilio.auth_token)
    try:
        await first.start()
        assert await first.wait_for_bot(timeout=30) > 0.5, "the first caller heard the greeting"
        holds_first = (await pair.live_calls()).index(1)
        await second.start()
        assert await second.wait_for_bot(timeout=30) > 0.5, "the second caller heard it too"
        assert await pair.live_calls() == [1, 1], "one call on each instance"

        # Twilio's AMD result for the first call reaches the instance that does not hold it.
        other = pair.servers[1 - holds_first]
        form = {"CallSid": first.call_sid, "AccountSid": first.account_sid}
        form |= {"AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "3500"}
        url = pair.nginx.url + "/twilio/amd"
        signature = RequestValidator(pair.twilio.auth_token).compute_signature(url, form)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                other.url + "/twilio/amd", data=form, headers={"X-Twilio-Signature": signature}
            ) as response:
                assert response.status == 204
        await asyncio.wait_for(first.closed_by_server.wait(), timeout=30)
        assert (await pair.live_calls())[1 - holds_first] == 1, "the other call goes on"
    finally:
        await first.hang_up()
        await second.hang_up()

    body = await pair.servers[1 - holds_first].call(first.call_id)
    assert body["endReason"] == "voicemail", body
    said = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert VOICEMAIL in said, said
    assert (await pair.servers[holds_first].call(second.call_id))["endReason"] == "caller-hangup"


async def test_a_calls_next_stream_landing_on_the_other_instance_reaches_the_call(
    pair: Pair, llm: FakeOpenAI
):
    """Keys in a phone menu: Twilio's new stream lands on the instance not holding the call.

    The dtmf tool updates the live call; Twilio stops the stream, plays the keys and opens
    a new one, which the balancer may send to either instance.
    """
    answer = "Hello, I am calling about your order."
    llm.script += [Reply("", tool_calls=[ScriptedCall("dtmf", {"keys": "1"})]), Reply(answer)]
    call = CallSimulator(
        pair.nginx.url, auth_token=pair.twilio.auth_token, direction="outbound-api"
    )
    pair.twilio.live_media[call.call_sid] = call.run_twiml
    async with call:
        await call.wait_for_bot(timeout=30)

        async def only_this_call() -> list[int] | None:
            counts = await pair.live_calls()
            return counts if sorted(counts) == [0, 1] else None

        holder = (await _wait_until(only_this_call, 20, "one call live")).index(1)
        other = pair.servers[1 - holder]
        call.server_url = other.url  # the call's next stream reaches the other instance
        # The caller's keys reach the LLM as text (no speech recognition to wait for).
        await call.press("9#")
        await _wait_until(_async(lambda: call.streams == 2), 60, "a second stream opened")
        await call.press("2#")
        heard = await call.wait_for_bot(timeout=30)
    assert call.keys_played == ["1"]
    assert heard > 1.0, "the call goes on, on the new stream: the caller hears the answer"

    body = await pair.servers[holder].call(call.call_id)
    assert body["endReason"] == "caller-hangup", body["endReason"]
    said = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
    assert said.count(GREETING) == 1 and said[-1] == answer, said
    assert "its next stream goes on to the instance holding the call" in other.logs()


def _async(predicate):
    async def check() -> bool:
        return predicate()

    return check


async def test_the_dialer_on_both_instances_never_dials_a_lead_twice(pair: Pair):
    numbers = [f"+1212555{n:04d}" for n in range(9)]
    spec = {
        "name": "two-instances",
        "assistant": "default",
        "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        "limits": {"maxConcurrent": 3, "maxAttempts": 1},
    }
    campaign = await pair.api("POST", "/api/campaigns", json=spec)
    csv = "phone\n" + "\n".join(numbers) + "\n"
    await pair.api(
        "POST",
        f"/api/campaigns/{campaign['id']}/contacts",
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    await pair.api("POST", f"/api/campaigns/{campaign['id']}/start")

    async def all_settled() -> dict | None:
        progress = await pair.api("GET", f"/api/campaigns/{campaign['id']}/progress")
        return progress if progress["contacts"]["completed"] == len(numbers) else None

    progress = await _wait_until(all_settled, 60, "every contact called and settled")
    dialled = {n: pair.twilio.dialled(n) for n in numbers}
    by_instance = [s.logs().count("dialled for campaign two-instances") for s in pair.servers]
    assert dialled == dict.fromkeys(numbers, 1), (dialled, by_instance)
    assert not pair.twilio.overlapping_numbers
    assert sum(by_instance) == len(numbers) and progress["answered"] == len(numbers), (
        by_instance,
        progress,
    )
