"""How calls end and what reaches the LLM: end_call, phrases, silence, time limit, keys, failure."""

from __future__ import annotations

import asyncio

import pytest

from crm.models import Task
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess
from tests.e2e.assistants import SHORT_LINE, SILENCE_LINE, WAITING_LINE
from tests.e2e.test_tool_calls import caller, named_lead, rows
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.slow


async def hung_up_by_server(call, timeout: float = 30.0) -> None:
    await asyncio.wait_for(call.closed_by_server.wait(), timeout)


def assistant_lines(body: dict) -> list[dict]:
    return [line for line in body["transcript"] if line["role"] == "assistant"]


async def test_end_call_says_goodbye_then_hangs_up(tools_server: ServerProcess, llm: FakeOpenAI):
    llm.script.append(
        Reply("Alright, thanks for calling.", tool_calls=[ToolCall("end_call", {"reason": "done"})])
    )
    async with caller(tools_server, "+15555550121") as call:
        await call.wait_for_bot()
        await call.speak(speech_ulaw("That's all, thank you."))
        await hung_up_by_server(call)
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "assistant-hangup"
    last = assistant_lines(body)[-2:]
    assert [line["text"] for line in last] == [
        "Alright, thanks for calling.",
        "Goodbye from the test line.",
    ]
    assert not any(line["interrupted"] for line in last), (
        "the goodbye played out before the hang-up"
    )


@pytest.mark.flaky(reruns=2)
async def test_end_call_phrase_hangs_up_once_heard(tools_server: ServerProcess, llm: FakeOpenAI):
    llm.script.append(Reply("Great, talk to you soon."))
    async with caller(tools_server, "+15555550122") as call:
        await call.wait_for_bot()
        await call.speak(speech_ulaw("Okay, bye now."))
        await hung_up_by_server(call)
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "end-call-phrase"
    last = assistant_lines(body)[-1]
    assert last["text"] == "Great, talk to you soon." and not last["interrupted"]


async def test_silent_caller_gets_one_prompt_then_a_goodbye(
    tools_server: ServerProcess, llm: FakeOpenAI
):
    async with caller(tools_server, "+15555550123", SILENCE_LINE) as call:
        await call.wait_for_bot()
        await hung_up_by_server(call)
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "silence-timeout"
    heard = [line["text"] for line in assistant_lines(body)]
    assert heard[0] == "Hello." and heard[1] == "Hello, are you still there?"
    assert heard[2].startswith("It seems we lost each other") and len(heard) == 3
    assert not llm.requests, "silence never reached the LLM"


async def test_a_caller_who_never_speaks_first_is_not_held_forever(
    tools_server: ServerProcess, llm: FakeOpenAI
):
    """An assistant that waits for the caller starts counting silence when the call is answered."""
    async with caller(tools_server, "+15555550124", WAITING_LINE) as call:
        await call.wait_for_bot(timeout=10)  # the prompt, after half the 5 s silence timeout
        await hung_up_by_server(call)
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "silence-timeout"
    heard = [line["text"] for line in assistant_lines(body)]
    assert heard[0] == "Hello? Is anyone there?" and heard[1].startswith(
        "It seems we lost each other"
    ), heard
    assert body["durationSeconds"] < 15 and not llm.requests


async def test_max_duration_ends_the_call_politely(tools_server: ServerProcess, llm: FakeOpenAI):
    async with caller(tools_server, "+15555550124", SHORT_LINE) as call:
        await call.wait_for_bot()
        await call.say(speech_ulaw("I have a question about my order."), "question")
        await hung_up_by_server(call)
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "max-duration"
    assert assistant_lines(body)[-1]["text"] == "Time is up, goodbye."
    assert 5.5 < body["durationSeconds"] < 15


async def test_keypad_digits_reach_the_llm_as_text(tools_server: ServerProcess, llm: FakeOpenAI):
    llm.script.append(Reply("Thanks, I found account one two three four."))
    async with caller(tools_server, "+15555550125") as call:
        await call.wait_for_bot()
        await call.press("1234#")
        await call.wait_for_bot(timeout=15)
    assert "DTMF: 1234" in llm.user_messages()
    body = await tools_server.call(call.call_id)
    user = [line["text"] for line in body["transcript"] if line["role"] == "user"]
    assert "DTMF: 1234" in user
    assert assistant_lines(body)[-1]["text"] == "Thanks, I found account one two three four."


async def test_llm_failure_is_never_silence(tools_server: ServerProcess, llm: FakeOpenAI):
    lead_id = await named_lead(tools_server, "+15555550126", "Fox Mulder")
    # The first completion stalls past LLM_TIMEOUT_SECS (2 s); the retry fails with a 500.
    llm.script += [Reply("too late", first_token_delay=4.0), Reply(status=500)]
    async with caller(tools_server, "+15555550126") as call:
        await call.wait_for_bot()
        turn = await call.say(speech_ulaw("What are your opening hours?"), "question")
        await hung_up_by_server(call)
    assert turn.voice_to_voice_ms is not None, "the caller heard something while the LLM failed"
    body = await tools_server.call(call.call_id)
    assert body["endReason"] == "llm-error"
    heard = [line["text"] for line in assistant_lines(body)]
    assert "Sorry, give me just a moment." in heard
    assert heard[-1].startswith("I'm sorry, I'm having technical trouble")
    [callback] = await rows(tools_server, Task, lead_id=lead_id, kind="callback")
    assert (
        callback.call_id == call.call_id
        and callback.status == "open"
        and callback.due_at is not None
    )
    assert len(llm.requests) == 2, "one retry, no more"
