"""Twilio's public paths: the voice webhook, status callbacks and the Media Streams socket."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from aiohttp import WSMsgType, web
from loguru import logger
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from agent.phrases import phrases_for
from crm.calls import NewCall
from telephony.capacity import CAPACITY
from telephony.dependencies import DEPS, CallDependencies
from telephony.live import LIVE, LeaveVoicemail
from telephony.opening import open_call
from telephony.overflow import OVERFLOW, OverflowDefaults, Overflows
from telephony.session import CallSession
from telephony.twilio.leg import StreamRoute, TwilioLeg
from telephony.twilio.overflow import SAY_LANGUAGES, overflow_twiml
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.twilio.settings import TwilioSettings
from telephony.twilio.streams import MediaStream, StreamHandovers, connect_stream, stream_token

routes = web.RouteTableDef()

TWILIO = web.AppKey("twilio", TwilioSettings)
STREAMS = web.AppKey("twilio_streams", StreamHandovers)

START_TIMEOUT_SECS = 10.0
MAX_MESSAGE_BYTES = 64 * 1024  # Media Streams messages are a few hundred bytes


async def signed_form(request: web.Request) -> dict[str, str]:
    """The webhook's form fields, once its X-Twilio-Signature checks out.

    Raises:
        web.HTTPForbidden: TWILIO_AUTH_TOKEN is set and the signature is missing or wrong.
    """
    form = {k: str(v) for k, v in (await request.post()).items()}
    twilio = request.app[TWILIO]
    if twilio.auth_token:
        url = twilio.public_url + request.path_qs
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(twilio.auth_token).validate(url, form, signature):
            logger.warning(
                f"{request.path}: rejected a request with a missing or invalid signature"
            )
            raise web.HTTPForbidden(text="invalid Twilio signature")
    return form


def _twiml(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type="application/xml")


@routes.post("/twilio/voice")
async def voice_webhook(request: web.Request) -> web.Response:
    """A call arrives (or an outbound call is answered): open the call and connect its audio."""
    form = await signed_form(request)
    deps, twilio = request.app[DEPS], request.app[TWILIO]
    call_sid = form.get("CallSid")
    if not call_sid:
        raise web.HTTPBadRequest(text="CallSid is required")
    placed = request.query.get("callId")
    if placed:  # an outbound call we placed was answered
        call = await deps.calls.provider_status(
            "twilio", call_sid, form.get("CallStatus") or "in-progress", call_id=placed
        )
        if call is None:
            raise web.HTTPNotFound(text="unknown call")
        entry = deps.assistants.entry(call.assistant)
        if entry.unavailable:
            return await _unavailable(deps, call.id, entry.assistant.name, entry.assistant.language)
        logger.info(
            f"call {call.id}: outbound Twilio call {call_sid} answered → assistant "
            f"'{call.assistant}'"
        )
        return _connect(twilio, call.id)
    direction = "outbound" if form.get("Direction", "").startswith("outbound") else "inbound"
    call, entry = await open_call(
        deps,
        NewCall(
            provider="twilio",
            provider_call_id=call_sid,
            provider_account_id=form.get("AccountSid"),
            direction=direction,
            from_number=form.get("From"),
            to_number=form.get("To"),
            status=form.get("CallStatus") or "ringing",
        ),
    )
    assistant = entry.assistant
    if entry.unavailable:
        return await _unavailable(deps, call.id, assistant.name, assistant.language)
    capacity = request.app.get(CAPACITY)
    if capacity is not None and not capacity.admit(call.id):
        overflows = request.app.get(OVERFLOW) or Overflows(OverflowDefaults())
        twiml = await overflow_twiml(deps, overflows, call, entry)
        return web.Response(text=twiml, content_type="application/xml")
    logger.info(
        f"call {call.id}: {direction} Twilio call {call_sid} → assistant '{assistant.name}'"
    )
    return _connect(twilio, call.id)


def _connect(twilio: TwilioSettings, call_id: str) -> web.Response:
    """TwiML that streams the call's audio to us, tied to the call by a signed parameter."""
    response = VoiceResponse()
    response.append(connect_stream(twilio.stream_url, twilio.signing_secret, call_id))
    return _twiml(response)


async def _unavailable(
    deps: CallDependencies, call_id: str, name: str, language: str
) -> web.Response:
    """The number's assistant cannot take calls (e.g. no speech models): a polite line, a hang-up.

    Routing such calls to another assistant would greet a Spanish caller in
    English or mis-hear them; the admin sees why in the log and GET /api/assistants.
    """
    logger.error(
        f"call {call_id}: assistant '{name}' is unavailable; "
        f"answering with a message and hanging up"
    )
    response = VoiceResponse()
    response.say(phrases_for(language).unavailable, language=SAY_LANGUAGES.get(language, "en-US"))
    response.hangup()
    await deps.calls.finalize(call_id, end_reason="assistant-unavailable")
    return _twiml(response)


@routes.post("/twilio/status")
async def status_callback(request: web.Request) -> web.Response:
    """Twilio reports a call's progress (ringing, answered, completed, no-answer...)."""
    form = await signed_form(request)
    call_sid, status = form.get("CallSid"), form.get("CallStatus")
    if not call_sid or not status:
        raise web.HTTPBadRequest(text="CallSid and CallStatus are required")
    duration = form.get("CallDuration")
    deps = request.app[DEPS]
    call = await deps.calls.provider_status(
        "twilio",
        call_sid,
        status,
        call_id=request.query.get("callId"),
        duration_seconds=float(duration) if duration and duration.isdigit() else None,
        answered_by=form.get("AnsweredBy"),
    )
    if call is None:
        logger.info(f"status callback for unknown call {call_sid}: {status}")
        return web.Response(status=204)
    await deps.status_changed(call)
    return web.Response(status=204)


@routes.post("/twilio/amd")
async def machine_detection(request: web.Request) -> web.Response:
    """Async answering-machine detection: a machine gets the voicemail message, or a hang-up."""
    form = await signed_form(request)
    call_sid, answered_by = form.get("CallSid"), form.get("AnsweredBy")
    if not call_sid or not answered_by:
        raise web.HTTPBadRequest(text="CallSid and AnsweredBy are required")
    deps = request.app[DEPS]
    call = await deps.calls.provider_status(
        "twilio",
        call_sid,
        "in-progress",
        call_id=request.query.get("callId"),
        answered_by=answered_by,
    )
    if call is None or not answered_by.startswith("machine"):
        return web.Response(status=204)
    message = deps.assistants.get(call.assistant).voicemail_message or None
    action = "leaving a message" if message else "hanging up"
    logger.info(f"call {call.id}: answered by a machine ({answered_by}); {action}")
    await request.app[LIVE].deliver(call.id, LeaveVoicemail(message))
    return web.Response(status=204)


async def _read_start(ws: web.WebSocketResponse) -> dict[str, Any] | None:
    """Skip ``connected`` (and anything early) until the stream's ``start``; None if none."""
    async with asyncio.timeout(START_TIMEOUT_SECS):
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                logger.warning(f"stream: ignoring a {message.type.name} message before start")
                continue
            try:
                event = json.loads(message.data)
            except json.JSONDecodeError:
                logger.warning("stream: ignoring malformed JSON before start")
                continue
            kind = event.get("event") if isinstance(event, dict) else None
            if kind == "start" and isinstance(event.get("start"), dict):
                return event["start"]
            if kind == "stop":
                return None
            if kind != "connected":
                logger.warning(f"stream: ignoring {str(kind)[:40]!r} before start")
    return None


@routes.get("/twilio/stream")
async def media_stream(request: web.Request) -> web.WebSocketResponse:
    """Twilio Media Streams (bidirectional): one pipeline per call."""
    deps, live, twilio = request.app[DEPS], request.app[LIVE], request.app[TWILIO]
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    try:
        start = await _read_start(ws)
    except TimeoutError:
        start = None
    if start is None:
        logger.warning("stream: closed without a valid start event")
        await ws.close()
        return ws

    parameters = start.get("customParameters") or {}
    call_id, token = str(parameters.get("callId", "")), str(parameters.get("token", ""))
    call = await deps.calls.get(call_id) if call_id else None
    if call is None or not hmac.compare_digest(token, stream_token(twilio.signing_secret, call_id)):
        logger.warning("stream: refused a stream with an unknown call or a bad token")
        await ws.close(code=1008, message=b"unknown call")
        return ws
    stream = MediaStream(ws, str(start.get("streamSid") or ""))
    if call.id in live and request.app[STREAMS].arrive(call.id, stream):
        # The call's next stream after a live-call update (keys played): the session
        # that holds the call goes on with it, and this route keeps it open till then.
        logger.info(f"call {call.id}: media goes on on a new stream")
        await stream.released.wait()
        return ws
    if call.ended_at is not None or call.id in live:
        logger.warning(f"call {call.id}: refused a second stream (call ended or already streaming)")
        await ws.close(code=1008, message=b"call ended or already streaming")
        return ws

    await deps.calls.stream_started(call.id, stream.stream_sid)
    serializer = TwilioMediaSerializer(
        stream.stream_sid, start.get("callSid") or call.provider_call_id
    )
    route = StreamRoute(twilio.stream_url, twilio.signing_secret, request.app[STREAMS])
    leg = TwilioLeg(stream, serializer, twilio.rest(), call.provider_call_id, call.id, route)
    await live.hold(CallSession(deps, call, deps.assistants.entry(call.assistant), leg))
    return ws
