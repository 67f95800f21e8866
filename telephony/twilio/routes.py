"""Twilio's public paths: the voice webhook, status callbacks and the Media Streams socket."""

from __future__ import annotations

import asyncio
import json
from typing import TypeVar

from aiohttp import WSMsgType, web
from loguru import logger
from pydantic import ValidationError
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from agent.phrases import phrases_for
from crm.calls import NewCall
from crm.db import is_outage
from crm.models import Call
from crm.secret_compare import same_secret
from telephony.capacity import CAPACITY
from telephony.dependencies import DEPS, CallDependencies
from telephony.live import LIVE, LeaveVoicemail
from telephony.opening import open_call
from telephony.overflow import OVERFLOW, OverflowDefaults, Overflows
from telephony.session import CallSession
from telephony.twilio.conference import ConferenceEvents
from telephony.twilio.forms import (
    AmdForm,
    FormError,
    StatusForm,
    StreamStart,
    TwilioForm,
    kept_number,
    parse_form,
)
from telephony.twilio.leg import StreamRoute, TwilioLeg
from telephony.twilio.overflow import SAY_LANGUAGES, overflow_twiml
from telephony.twilio.relay import relay_stream
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.twilio.settings import TwilioSettings
from telephony.twilio.streams import MediaStream, StreamHandovers, connect_stream, stream_token

routes = web.RouteTableDef()

TWILIO = web.AppKey("twilio", TwilioSettings)
STREAMS = web.AppKey("twilio_streams", StreamHandovers)
CONFERENCES = web.AppKey("twilio_conferences", ConferenceEvents)

F = TypeVar("F", bound=TwilioForm)

START_TIMEOUT_SECS = 10.0
MAX_MESSAGE_BYTES = 64 * 1024  # Media Streams messages are a few hundred bytes


def _bad_request(detail: str, fields: list[dict[str, str]] | None = None) -> web.HTTPBadRequest:
    body = {"error": "invalid_request", "detail": detail} | ({"fields": fields} if fields else {})
    return web.HTTPBadRequest(text=json.dumps(body), content_type="application/json")


async def signed_form(request: web.Request, model: type[F]) -> F:
    """The webhook's form fields as ``model``, once its X-Twilio-Signature checks out.

    Raises:
        web.HTTPForbidden: TWILIO_AUTH_TOKEN is set and the signature is missing or wrong.
        web.HTTPBadRequest: Not a form Twilio sends (the API's JSON error, naming the fields).
    """
    try:
        form = parse_form(await request.read())
    except FormError as e:
        raise _bad_request(str(e)) from None
    twilio = request.app[TWILIO]
    if twilio.auth_token:
        url = twilio.public_url + request.path_qs
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(twilio.auth_token).validate(url, form, signature):
            logger.warning(
                f"{request.path}: rejected a request with a missing or invalid signature"
            )
            raise web.HTTPForbidden(text="invalid Twilio signature")
    try:
        return model.model_validate(form)
    except ValidationError as e:
        fields = [
            {"field": ".".join(map(str, err["loc"])) or "form", "message": err["msg"]}
            for err in e.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        logger.warning(f"{request.path}: refused a malformed webhook ({summary[:300]})")
        raise _bad_request(f"invalid form: {summary}", fields) from None


def _twiml(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type="application/xml")


@routes.post("/twilio/voice")
async def voice_webhook(request: web.Request) -> web.Response:
    """A call arrives (or an outbound call is answered): open the call and connect its audio."""
    form = await signed_form(request, TwilioForm)
    deps, twilio = request.app[DEPS], request.app[TWILIO]
    call_sid = form.CallSid
    placed = request.query.get("callId")
    if placed:  # an outbound call we placed was answered
        call = await deps.calls.provider_status(
            "twilio", call_sid, form.CallStatus or "in-progress", call_id=placed
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
    direction = "outbound" if (form.Direction or "").startswith("outbound") else "inbound"
    call, entry = await open_call(
        deps,
        NewCall(
            provider="twilio",
            provider_call_id=call_sid,
            provider_account_id=form.AccountSid,
            direction=direction,
            from_number=kept_number(form.From),
            to_number=kept_number(form.To),
            status=form.CallStatus or "ringing",
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
    form = await signed_form(request, StatusForm)
    call_sid, status, duration = form.CallSid, form.CallStatus, form.CallDuration or ""
    deps = request.app[DEPS]
    call = await deps.calls.provider_status(
        "twilio",
        call_sid,
        status,
        call_id=request.query.get("callId"),
        duration_seconds=float(duration) if duration.isascii() and duration.isdigit() else None,
        answered_by=form.AnsweredBy,
    )
    if call is None:
        logger.info(f"status callback for unknown call {call_sid}: {status}")
        return web.Response(status=204)
    await deps.status_changed(call)
    return web.Response(status=204)


@routes.post("/twilio/amd")
async def machine_detection(request: web.Request) -> web.Response:
    """Async answering-machine detection: a machine gets the voicemail message, or a hang-up."""
    form = await signed_form(request, AmdForm)
    call_sid, answered_by = form.CallSid, form.AnsweredBy
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


class MalformedStart(ValueError):
    """A ``start`` message that is not Twilio's (the socket is closed with 1008)."""


async def _read_start(ws: web.WebSocketResponse) -> StreamStart | None:
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
            if kind == "start":
                try:
                    return StreamStart.model_validate(event.get("start"))
                except ValidationError as e:
                    raise MalformedStart(f"{e.error_count()} problem(s)") from None
            if kind == "stop":
                return None
            if kind != "connected":
                logger.warning(f"stream: ignoring {str(kind)[:40]!r} before start")
    return None


async def _stream_started(deps: CallDependencies, call_id: str, stream_sid: str) -> None:
    """Mark the call in progress; while the database is away the call goes on without it."""
    try:
        await deps.calls.stream_started(call_id, stream_sid)
    except Exception as e:
        if not is_outage(e):
            raise
        logger.warning(f"call {call_id}: database unavailable; the call goes on")


async def _passed_on(
    request: web.Request, ws: web.WebSocketResponse, call: Call, start: StreamStart
) -> bool:
    """A call's next stream (after keys were played) that landed here goes to its instance.

    Returns:
        Whether another instance holds the call and the stream was relayed there till its end.
    """
    deps, live = request.app[DEPS], request.app[LIVE]
    if not call.provider_stream_id or call.ended_at is not None or call.id in live:
        return False  # a first stream, or one for this instance
    holder = await live.held_elsewhere(call.id)
    if holder is None or deps.http is None:
        return False
    logger.info(f"call {call.id}: its next stream goes on to the instance holding the call")
    await relay_stream(ws, start.model_dump(), holder, deps.http, MAX_MESSAGE_BYTES)
    return True


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
    except MalformedStart as e:
        logger.warning(f"stream: refused a malformed start event ({e})")
        await ws.close(code=1008, message=b"malformed start")
        return ws
    if start is None:
        logger.warning("stream: closed without a valid start event")
        await ws.close()
        return ws

    parameters = start.customParameters
    call_id, token = parameters.get("callId", ""), parameters.get("token", "")
    call_id = call_id if call_id.isascii() and call_id.isalnum() and len(call_id) <= 64 else ""
    offline = deps.offline_calls.get(call_id) if call_id else None  # answered during an outage
    if offline is not None:
        call: Call | None = deps.calls.unsaved(offline, call_id)
    else:
        call = await deps.calls.get(call_id) if call_id else None
    if call is None or not same_secret(token, stream_token(twilio.signing_secret, call_id)):
        logger.warning("stream: refused a stream with an unknown call or a bad token")
        await ws.close(code=1008, message=b"unknown call")
        return ws
    if await _passed_on(request, ws, call, start):
        return ws
    stream = MediaStream(ws, start.streamSid)
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

    call.provider_stream_id = stream.stream_sid
    if offline is None:
        await _stream_started(deps, call.id, stream.stream_sid)
    serializer = TwilioMediaSerializer(stream.stream_sid, start.callSid or call.provider_call_id)
    route = StreamRoute(
        twilio.stream_url,
        twilio.signing_secret,
        request.app[STREAMS],
        twilio.public_url,
        request.app.get(CONFERENCES),
    )
    line = call.to_number if call.direction == "inbound" else call.from_number
    leg = TwilioLeg(stream, serializer, twilio.rest(), call.provider_call_id, call.id, route, line)
    await live.hold(CallSession(deps, call, deps.assistants.entry(call.assistant), leg))
    return ws
