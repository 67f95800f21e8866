"""Outgoing webhooks: VAPI-shaped reports, HMAC signatures, backoff retries, each attempt logged."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.db import Database
from crm.models import Call, Lead, ToolCall, Utterance, WebhookDelivery
from crm.webhooks import payloads
from crm.webhooks.outbox import WebhookSettings, enqueue
from crm.webhooks.sender import SIGNATURE_HEADER, WebhookSender
from tests.crm.conftest import SALES_CALL, record_call
from tests.fakes.webhook_receiver import WebhookReceiver

SECRET = "webhook-secret"


@pytest.fixture
async def receiver():
    server = await WebhookReceiver(fail_first=2).start()
    yield server
    await server.stop()


async def queue(database: Database, settings: WebhookSettings, key: str = "test:1") -> None:
    async with database.session() as session:
        await enqueue(
            session,
            settings,
            event="call.analyzed",
            key=key,
            payload={"message": {"type": "call.analyzed", "n": "ñ"}},
        )


async def test_a_receiver_that_fails_twice_gets_it_the_third_time(
    database: Database, receiver: WebhookReceiver
):
    settings = WebhookSettings(
        urls=(receiver.url + "/hooks",), secret=SECRET, retry_base_seconds=0.1
    )
    await queue(database, settings)
    await queue(database, settings)  # the same event again is not queued twice
    sender = WebhookSender(database, settings)
    assert await sender.deliver_due() == 1
    assert await sender.deliver_due() == 0, "the retry waits for its backoff"
    for _ in range(40):
        await asyncio.sleep(0.05)
        await sender.deliver_due()
        if receiver.accepted:
            break
    await sender.close()
    assert [r.answered for r in receiver.received] == [500, 500, 200]
    got = receiver.accepted[0]
    assert got.json == {"message": {"type": "call.analyzed", "n": "ñ"}} and got.path == "/hooks"
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert (
        got.headers[SIGNATURE_HEADER] == expected
        and got.headers["X-Phoneagent-Event"] == "call.analyzed"
    )
    async with database.session() as session:
        delivery = await session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert [h["status"] for h in delivery.history] == [
        500,
        500,
        200,
    ] and delivery.delivered_at is not None
    first, second = (h["at"] for h in delivery.history[:2])
    assert first < second


async def test_deliveries_give_up_after_max_attempts(database: Database):
    settings = WebhookSettings(
        urls=("http://127.0.0.1:9/closed",),
        secret=SECRET,
        retry_base_seconds=0.01,
        max_attempts=3,
        timeout=2,
    )
    await queue(database, settings)
    sender = WebhookSender(database, settings)
    for _ in range(30):
        await sender.deliver_due()
        await asyncio.sleep(0.03)
    await sender.close()
    async with database.session() as session:
        delivery = await session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, None)
    assert "ClientConnectorError" in delivery.last_error and len(delivery.history) == 3


async def test_events_filter_and_rule_urls(database: Database):
    settings = WebhookSettings(
        urls=("http://a.example/x", "http://b.example/y"),
        secret=SECRET,
        events=frozenset({"end-of-call-report"}),
    )
    async with database.session() as session:
        assert await enqueue(session, settings, event="call.analyzed", key="k1", payload={}) == 0
        assert (
            await enqueue(session, settings, event="end-of-call-report", key="k2", payload={}) == 2
        )
        assert (
            await enqueue(
                session, settings, event="lead.hot", key="k3", payload={}, url="http://c.example/z"
            )
            == 1
        )


async def test_end_of_call_report_is_shaped_like_vapis(database: Database):
    call = await record_call(database, SALES_CALL, sid="CA-eocr")
    async with database.session() as session:
        session.add(
            ToolCall(
                call_id=call.id,
                tool_call_id="call_1",
                name="book_appointment",
                arguments={"day": "Tuesday"},
                result={"booked": True},
                created_at=call.started_at + timedelta(seconds=1),
            )
        )
    async with database.session() as session:
        row = await session.get(Call, call.id)
        row.summary, row.structured_data, row.success_evaluation = (
            "Wants fiber.",
            {"plan": "300"},
            "true",
        )
        lead = await session.get(Lead, row.lead_id)
        lines = list(
            await session.scalars(
                select(Utterance).where(Utterance.call_id == call.id).order_by(Utterance.seq)
            )
        )
        tools = list(await session.scalars(select(ToolCall)))
        body = payloads.end_of_call_report(row, lead, lines, tools)
    message = json.loads(json.dumps(body))["message"]
    assert (
        message["type"] == "end-of-call-report" and message["endedReason"] == "customer-ended-call"
    )
    assert message["analysis"] == {
        "summary": "Wants fiber.",
        "structuredData": {"plan": "300"},
        "successEvaluation": "true",
    }
    assert message["call"]["id"] == call.id and message["call"]["type"] == "inboundPhoneCall"
    assert (
        message["customer"]["number"] == "+14155550100"
        and message["phoneNumber"]["number"] == "+15555550199"
    )
    artifact = message["artifact"]
    assert (
        artifact["transcript"].startswith("AI: Hi, thanks for calling Fibra Max.")
        and "\nUser: Hi, how much" in artifact["transcript"]
    )
    roles = [m["role"] for m in artifact["messages"]]
    assert (
        roles[:4] == ["bot", "tool_calls", "tool_call_result", "user"] and roles.count("user") == 3
    )
    bot = artifact["messages"][0]
    assert (
        set(bot) >= {"role", "message", "time", "endTime", "secondsFromStart", "duration"}
        and bot["secondsFromStart"] == 0
    )
    assert artifact["messages"][1]["secondsFromStart"] == 1
    assert artifact["messages"][1]["toolCalls"][0]["function"] == {
        "name": "book_appointment",
        "arguments": '{"day": "Tuesday"}',
    }
    assert artifact["messagesOpenAIFormatted"][1] == {"role": "user", "content": SALES_CALL[1][1]}
    assert message["durationSeconds"] == 30 and message["transcript"] == artifact["transcript"]


async def test_the_assistants_server_gets_its_end_of_call_report_like_on_vapi(
    database: Database, receiver: WebhookReceiver
):
    from crm.service import CrmService, CrmSettings

    receiver.fail_first = 0
    servers = {"default": (receiver.url + "/vapi/events", "assistant-secret")}
    crm = CrmService(
        database, CrmSettings(webhooks=WebhookSettings(secret=SECRET)), servers=servers.get
    )
    call = await record_call(database, SALES_CALL, sid="CA-server")
    other = await record_call(
        database, SALES_CALL, sid="CA-other", phone="+14155550111", assistant="no-server"
    )
    assert await crm.queue.process_due() == 2
    assert await crm.sender.deliver_due() == 1  # no WEBHOOK_URLS: only the assistant's server
    await crm.stop()
    [got] = receiver.accepted
    assert got.path == "/vapi/events" and got.json["message"]["type"] == "end-of-call-report"
    assert got.json["message"]["call"]["id"] == call.id != other.id
    assert got.headers["X-Vapi-Secret"] == "assistant-secret"
    assert (
        got.headers[SIGNATURE_HEADER]
        == hmac.new(b"assistant-secret", got.body, hashlib.sha256).hexdigest()
    )
    assert got.json["message"]["analysis"]["summary"]
