"""Twilio's paths for warm transfers: conference and agent callbacks, hold music, the whisper."""

from __future__ import annotations

from aiohttp import web
from loguru import logger
from twilio.twiml.voice_response import VoiceResponse

from telephony.hold_music import hold_music
from telephony.twilio.conference import ConferenceEvent
from telephony.twilio.forms import ConferenceForm
from telephony.twilio.routes import CONFERENCES, TWILIO, signed_form

routes = web.RouteTableDef()

HOLD_LINE = "Please hold. A colleague will be with you shortly."


def _xml(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type="application/xml")


@routes.post("/twilio/transfer/events")
async def transfer_events(request: web.Request) -> web.Response:
    """A warm transfer's conference events and its agents' call statuses."""
    form = await signed_form(request, ConferenceForm)
    transfer_id = request.query.get("transferId", "")
    kind = form.StatusCallbackEvent or form.CallStatus or ""
    event = ConferenceEvent(kind, form.CallSid, form.ConferenceSid)
    if not request.app[CONFERENCES].put(transfer_id, event):
        logger.debug(f"transfer {transfer_id}: {kind} for a transfer not running here")
    return web.Response(status=204)


@routes.get("/twilio/transfer/hold")
async def hold(request: web.Request) -> web.Response:
    """What a held caller hears: a line, then the chime, over and over."""
    response = VoiceResponse()
    response.say(HOLD_LINE)
    response.play(request.app[TWILIO].public_url.rstrip("/") + "/twilio/transfer/hold.wav", loop=0)
    return _xml(response)


@routes.get("/twilio/transfer/hold.wav")
async def hold_audio(request: web.Request) -> web.Response:
    """The hold chime."""
    return web.Response(body=hold_music(), content_type="audio/wav")


@routes.post("/twilio/transfer/whisper")
async def whisper(request: web.Request) -> web.Response:
    """The whisper, said to the agent alone, then a redirect that tells us it was said."""
    await signed_form(request, ConferenceForm)
    transfer_id = request.query.get("transferId", "")
    text = request.app[CONFERENCES].whisper(transfer_id) or "You have a transferred call."
    response = VoiceResponse()
    response.say(text)
    events = request.app[TWILIO].public_url.rstrip("/") + "/twilio/transfer/whispered"
    response.redirect(f"{events}?transferId={transfer_id}")
    return _xml(response)


@routes.post("/twilio/transfer/whispered")
async def whispered(request: web.Request) -> web.Response:
    """The agent heard the whisper (Twilio followed its redirect): the caller may be bridged."""
    form = await signed_form(request, ConferenceForm)
    transfer_id = request.query.get("transferId", "")
    request.app[CONFERENCES].put(transfer_id, ConferenceEvent("whispered", form.CallSid))
    return _xml(VoiceResponse())
