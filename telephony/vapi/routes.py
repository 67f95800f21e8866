"""``POST /vapi/events``: VAPI's server messages, answered from our assistants, tools and database.

Every request must carry the VAPI secret (``X-Vapi-Secret``, or ``Authorization: Bearer``);
anything else is refused with 401 before the body is read. A body that is not a VAPI
server message (not JSON, or a field we read of the wrong type: telephony/vapi/schema.py)
gets 400 with the API's JSON error (``error``, ``detail``, ``fields``) and nothing is
stored. Message types (see https://docs.vapi.ai/server-url/events):

- ``assistant-request``: the assistant for the called number, and variable values from
  the CRM lead matched by the caller's number;
- ``tool-calls`` / legacy ``function-call``: our tool registry; a failing tool answers an
  error result (never a 500), and no tool waits on analysis;
- ``status-update``, ``conversation-update``, ``transcript``: the live call;
- ``end-of-call-report``: the call, transcript, tool calls, recording, cost and ended
  reason, stored once however often VAPI retries; then our analysis, scoring and rules;
- ``transfer-destination-request``: the human destination of the call's assistant;
- ``hang`` and anything else: 200, logged.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp import web
from loguru import logger

from agent.phrases import phrases_for
from agent.tools import ToolContext, execute
from agent.tools.call import destinations_of
from agent.variables import call_timezone
from crm import strict_json
from crm.api.http import ApiError, validate
from crm.calls import NewUtterance
from crm.models import Call, Lead, utcnow
from crm.secret_compare import same_secret
from crm.strict_json import JsonRefused
from telephony.vapi.control import VapiControl
from telephony.vapi.messages import (
    STATUSES,
    BadMessage,
    CallRef,
    ToolRequest,
    call_ref,
    conversation,
    ended,
    legacy_function_call,
    message_of,
    tool_requests,
)
from telephony.vapi.reports import store_report, sync_transcript
from telephony.vapi.schema import Envelope
from telephony.vapi.service import VapiService

routes = web.RouteTableDef()

VAPI = web.AppKey("vapi", VapiService)


def authorized(request: web.Request, secret: str) -> bool:
    """Whether the request carries the VAPI secret (header or bearer credential)."""
    offered = request.headers.get("X-Vapi-Secret", "")
    auth = request.headers.get("Authorization", "")
    if not offered and auth.lower().startswith("bearer "):
        offered = auth[7:].strip()
    return bool(secret) and bool(offered) and same_secret(offered, secret)


@routes.post("/vapi/events")
async def vapi_events(request: web.Request) -> web.Response:
    """One VAPI server message."""
    service = request.app[VAPI]
    if not authorized(request, service.secret):
        logger.warning("/vapi/events: refused a request without the VAPI secret")
        return web.json_response({"error": "missing or wrong VAPI secret"}, status=401)
    try:
        data = strict_json.loads(await request.read())
        validate(Envelope, data, "VAPI message")
        message = message_of(data)
    except JsonRefused as e:
        return ApiError(400, "invalid_json", f"the body is not JSON we accept: {e}").response()
    except ApiError as e:
        logger.warning(f"/vapi/events: refused a malformed message: {e.detail[:300]}")
        return e.response()
    except BadMessage as e:
        return ApiError(400, "invalid_request", str(e)).response()
    kind = message["type"]
    handler = HANDLERS.get(kind)
    if handler is None:
        logger.info(f"VAPI message '{kind[:100]}' ignored (not used by this server)")
        return web.json_response({})
    try:
        return web.json_response(await handler(service, message))
    except BadMessage as e:
        return ApiError(400, "invalid_request", str(e)).response()


async def assistant_request(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """Which assistant answers a call to one of our VAPI numbers, with the caller's CRM values."""
    ref = call_ref(message)
    entry = service.deps.assistants.entry_for_number(ref.our_number)
    call = await service.find_or_open(ref, entry, status="ringing")
    lead = await service.deps.leads.get(call.lead_id) if call and call.lead_id else None
    variables = await service.variables(entry, lead, ref.customer)
    return service.assistant_spec(entry, variables, lead)


def _context(
    service: VapiService, ref: CallRef, call: Call | None, lead: Lead | None = None
) -> ToolContext:
    entry = service.entry_for(ref, call)
    assistant = entry.assistant
    phone = ref.customer or (
        call.from_number
        if call and call.direction == "inbound"
        else call.to_number
        if call
        else None
    )
    control = (
        VapiControl(service.deps.http, ref.control_url, call.id if call else ref.vapi_id or "?")
        if ref.control_url and service.deps.http
        else None
    )
    return ToolContext(
        db=service.deps.database,
        calls=service.deps.calls,
        assistant=assistant,
        tools=entry.tools,
        call_id=call.id if call else None,
        lead_id=call.lead_id if call else None,
        phone=phone,
        timezone=call_timezone(assistant, lead, phone),  # the zone a local call would use
        phrases=phrases_for(assistant.language),
        control=control,
        stages=service.deps.stages,
        policy=service.deps.policy,
        http=service.deps.http,
        provider="vapi",
        direction=call.direction if call else ref.direction,
    )


async def _run_tools(
    service: VapiService, message: dict[str, Any], requests: list[ToolRequest]
) -> list[dict[str, Any]]:
    ref = call_ref(message)
    try:
        call = await service.find_or_open(ref)
        lead = (
            await service.deps.leads.get(call.lead_id)
            if call is not None and call.lead_id
            else None
        )
        context = _context(service, ref, call, lead)
    except Exception as e:  # never a 500 on a tool call: the LLM hears that it failed
        logger.exception(f"VAPI call {ref.vapi_id}: cannot prepare tool calls: {e}")
        return [
            {
                "toolCallId": r.id,
                "name": r.name,
                "error": "the tool is unavailable right now; offer a callback",
            }
            for r in requests
        ]
    answers = []
    for request in requests:
        result = await execute(request.name, request.arguments, context, tool_call_id=request.id)
        value = result.value if isinstance(result.value, str) else json.dumps(result.value)
        answer: dict[str, Any] = {"toolCallId": request.id, "name": request.name}
        answer.update({"result": value} if result.ok else {"error": result.error or value})
        answers.append(answer)
    return answers


async def tool_calls(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """Run the tools the model asked for through our registry."""
    requests = tool_requests(message)  # a malformed list is refused before anything is stored
    return {"results": await _run_tools(service, message, requests)}


async def function_call(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """The legacy single ``function-call``: ``{"result": ...}``."""
    answer = (await _run_tools(service, message, [legacy_function_call(message)]))[0]
    return {"result": answer.get("result", answer.get("error"))}


async def status_update(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """The call moved on: queued, ringing, in progress, forwarding, ended."""
    ref = call_ref(message)
    vapi_status = str(message.get("status") or "")
    status = STATUSES.get(vapi_status)
    call = await service.find_or_open(ref, status=status or "in-progress")
    if call is None or status is None:
        return {}
    if vapi_status == "ended":
        status, _ = ended(message.get("endedReason"), answered=call.answered_at is not None)
    updated = await service.deps.calls.provider_status(
        "vapi", ref.vapi_id or call.provider_call_id or "", status, call_id=call.id
    )
    if updated is not None:
        await service.deps.status_changed(updated)
    return {}


async def conversation_update(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """The conversation so far: the live transcript."""
    call = await service.find_or_open(call_ref(message))
    items = (
        message.get("messages")
        if isinstance(message.get("messages"), list)
        else conversation(message)
    )
    if call is not None:
        await sync_transcript(
            service.deps.database, call.id, [m for m in items if isinstance(m, dict)]
        )
    return {}


async def transcript(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """A final transcript line (partials are not stored)."""
    if (
        message.get("transcriptType", "final") != "final"
        or not str(message.get("transcript") or "").strip()
    ):
        return {}
    call = await service.find_or_open(call_ref(message))
    if (
        call is not None and call.provider_report_at is None
    ):  # a later conversation-update replaces these lines
        role = "user" if message.get("role") == "user" else "assistant"
        now = utcnow()
        await service.deps.calls.add_utterance(
            call.id,
            NewUtterance(role, str(message["transcript"]).strip(), now - timedelta(seconds=1), now),
        )
    return {}


async def end_of_call_report(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """Store the finished call once, then analyse, score and run rules on it like a local call."""
    ref = call_ref(message)
    if not ref.vapi_id and not ref.our_id:
        raise BadMessage("end-of-call-report without call.id")
    call = await service.find_or_open(ref, status="in-progress")
    if call is None:
        raise BadMessage("end-of-call-report for an unknown call without call.id")
    if not await store_report(service.deps.database, call.id, message):
        logger.info(f"call {call.id}: VAPI sent its end-of-call report again; already stored")
        return {"ok": True, "duplicate": True}
    logger.info(f"call {call.id}: VAPI end-of-call report stored ({message.get('endedReason')})")
    stored = await service.deps.calls.get(call.id)
    if stored is not None:
        await service.deps.status_changed(stored)
    service.deps.call_ended(call.id)
    return {"ok": True}


async def transfer_destination_request(
    service: VapiService, message: dict[str, Any]
) -> dict[str, Any]:
    """Where the assistant hands the caller to a person."""
    ref = call_ref(message)
    call = await service.find(ref)
    context = _context(service, ref, call)
    destinations = destinations_of(context)
    if not destinations:
        name = context.assistant.name
        logger.warning(
            f"VAPI call {ref.vapi_id}: transfer asked, but assistant '{name}' has no destination"
        )
        return {
            "error": f"assistant '{name}' has no transfer destination (set forwardingPhoneNumber)"
        }
    target = destinations[0]
    destination: dict[str, Any] = (
        {"type": "sip", "sipUri": target.sip_uri}
        if target.type == "sip"
        else {"type": "number", "number": target.number}
    )
    if target.message:
        destination["message"] = target.message
    if call is not None:
        async with service.deps.database.session() as session:
            row = await session.get(Call, call.id)
            row.transfer_target = (target.number or target.sip_uri or "")[:200]
    return {"destination": destination}


async def hang(service: VapiService, message: dict[str, Any]) -> dict[str, Any]:
    """The assistant failed to answer for a while on VAPI's side: logged for the admin."""
    logger.warning(
        f"VAPI call {call_ref(message).vapi_id}: hang notification "
        f"(the assistant did not reply in time)"
    )
    return {}


HANDLERS = {
    "assistant-request": assistant_request,
    "tool-calls": tool_calls,
    "function-call": function_call,
    "status-update": status_update,
    "conversation-update": conversation_update,
    "transcript": transcript,
    'transcript[transcriptType="final"]': transcript,
    "end-of-call-report": end_of_call_report,
    "transfer-destination-request": transfer_destination_request,
    "hang": hang,
}
