"""A call Twilio carries: Media Streams audio on our websocket, REST for transfers and keys."""
# (A warm transfer's conference work is in telephony/twilio/conference.py.)

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from loguru import logger
from twilio.twiml.voice_response import VoiceResponse

from agent.tool_config import TransferDestination
from agent.tools import DtmfFailed, TransferFailed
from telephony.carrier import CallLeg, NotSupported
from telephony.desk.plan import WarmPlan
from telephony.twilio.conference import (
    ConferenceEvents,
    ConferenceTransfer,
    TransferUrls,
    conference_twiml,
)
from telephony.twilio.rest import TwilioRest, TwilioRestError, dial_twiml
from telephony.twilio.serializer import TwilioMediaSerializer
from telephony.twilio.streams import MediaStream, StreamHandovers, connect_stream
from telephony.ws_transport import WebsocketCallParams, WebsocketCallTransport

# How long Twilio may take to open the next stream once the update is accepted, plus the keys.
NEXT_STREAM_SECS = 10.0
SECS_PER_KEY = 0.6  # a tone and its gap; ``w`` is half a second


@dataclass(frozen=True)
class StreamRoute:
    """How Twilio reaches our media socket for this call's next stream.

    Parameters:
        stream_url: The Media Streams URL (wss://host/twilio/stream).
        secret: Signs the per-call stream token.
        handovers: Where the media route hands the next stream to the call.
        public_url: Our public base URL (a warm transfer's callbacks, hold music, whisper).
        conferences: Where a warm transfer's callbacks are handed to it.
    """

    stream_url: str
    secret: str
    handovers: StreamHandovers
    public_url: str = ""
    conferences: ConferenceEvents | None = None


def stream_twiml(route: StreamRoute, call_id: str) -> str:
    """TwiML that streams the call to us again (a caller taken back from a transfer's hold)."""
    response = VoiceResponse()
    response.append(connect_stream(route.stream_url, route.secret, call_id))
    return str(response)


def keys_twiml(keys: str, route: StreamRoute, call_id: str) -> str:
    """TwiML that plays ``keys`` on the call, then streams it to us again."""
    response = VoiceResponse()
    response.play(digits=keys)
    response.append(connect_stream(route.stream_url, route.secret, call_id))
    return str(response)


class TwilioLeg(CallLeg):
    """:class:`telephony.carrier.CallLeg` for Twilio Media Streams."""

    provider = "twilio"

    def __init__(
        self,
        stream: MediaStream,
        serializer: TwilioMediaSerializer,
        rest: TwilioRest,
        call_sid: str | None,
        call_id: str,
        route: StreamRoute,
        caller_id: str | None = None,
    ):
        """Bind to one call's media stream (past its ``start``) and its Twilio call.

        ``caller_id`` is the number agents are rung from (the line the caller called).
        """
        self._caller_id = caller_id
        self._stream = stream
        self._serializer = serializer
        self._rest = rest
        self._call_sid = call_sid
        self._call_id = call_id
        self._route = route
        self._transport: WebsocketCallTransport | None = None

    def transport(self) -> WebsocketCallTransport:
        """mu-law 8 kHz over the socket, paced to real time, with playback marks."""
        if self._transport is None:
            self._transport = WebsocketCallTransport(
                self._stream.ws,
                WebsocketCallParams(
                    serializer=self._serializer,
                    audio_in_enabled=True,
                    audio_out_enabled=True,
                    audio_out_end_silence_secs=0,
                ),
            )
        return self._transport

    @property
    def far_end_hung_up(self) -> bool:
        """Twilio sent ``stop`` (after a transfer too: the conversation's reason wins then)."""
        return self._serializer.stopped

    async def hang_up(self) -> None:
        """Close our socket: that ends ``<Connect>``, and so the call."""
        self._route.handovers.forget(self._call_id)
        if not self._stream.ws.closed:
            await self._stream.ws.close()
        self._stream.released.set()

    def cannot_transfer(self) -> str | None:
        """Transfers and keys update the live call: that needs REST credentials and its SID."""
        if not self._rest.configured or not self._call_sid:
            return "Twilio REST is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
        return None

    async def transfer(self, destination: TransferDestination) -> None:
        """Update the live call with ``<Dial>`` TwiML; Twilio then stops our stream.

        Raises:
            TransferFailed: Twilio refused, or could not be reached.
        """
        if reason := self.cannot_transfer():
            raise TransferFailed(reason)
        assert self._call_sid is not None
        try:
            await self._rest.update_twiml(self._call_sid, dial_twiml(destination))
        except TwilioRestError as e:
            raise TransferFailed(str(e)) from None

    def cannot_warm_transfer(self) -> str | None:
        """A warm transfer also needs our public URL for Twilio's callbacks, and a caller ID."""
        if reason := self.cannot_transfer():
            return reason
        if self._route.conferences is None or not self._route.public_url:
            return "warm transfers need PUBLIC_URL (Twilio calls back about the conference)"
        if not self._caller_id:
            return "no number to ring agents from (the call has no line number)"
        return None

    async def warm_transfer(self, plan: WarmPlan) -> None:
        """Hold the caller in a conference, ring agents into it, whisper, bridge; or take back.

        The caller's call is updated to ``<Dial><Conference>`` (hold music until an agent
        is there, then held with music while the agent hears the whisper), so our stream
        stops as for keys: the session waits for its next stream. When no agent takes
        the call, the caller is streamed to us again and the same session goes on.

        Raises:
            TransferFailed: No agent took the call (the caller is back with us), or Twilio
                failed (the message says which).
        """
        if reason := self.cannot_warm_transfer():
            raise TransferFailed(reason)
        assert self._call_sid is not None and self._route.conferences is not None
        urls = TransferUrls.under(self._route.public_url, plan.transfer_id)
        events = self._route.conferences.open(plan.transfer_id, plan.whisper)
        conference = ConferenceTransfer(
            self._rest, events, urls, self._call_sid, self._caller_id or "", plan
        )
        arrival = self._away()
        try:
            try:
                twiml = conference_twiml(f"transfer-{plan.transfer_id}", urls)
                await self._rest.update_twiml(self._call_sid, twiml)
            except TwilioRestError as e:
                self._stay()
                raise TransferFailed(str(e)) from None
            reason = await self._ring_agents(conference, plan)
            if reason is None:
                self._let_go()
                return
            if conference.caller_left:
                self._stay()
                raise TransferFailed(reason)
            await self._back(arrival)
            raise TransferFailed(reason)
        finally:
            self._route.conferences.close(plan.transfer_id)

    async def _ring_agents(self, conference: ConferenceTransfer, plan: WarmPlan) -> str | None:
        """Ring agents until one is bridged (None); else why no one was."""
        try:
            await conference.hold_caller()
            while (agent := await plan.next_agent()) is not None:
                outcome = await conference.ring(agent)
                if outcome == "bridged":
                    return None
                await plan.missed(agent, outcome)
            return "no agent of the queue answered"
        except (TwilioRestError, TimeoutError, TransferFailed) as e:
            return str(e)

    def _away(self) -> asyncio.Future[MediaStream]:
        """The stream is about to stop for a live-call update: its ``stop`` is no hang-up."""
        arrival = self._route.handovers.expect(self._call_id)
        self._serializer.moving = True
        self.transport().expect_new_socket()
        return arrival

    async def _back(self, arrival: asyncio.Future[MediaStream]) -> None:
        """Stream the call to us again and carry on on the new stream (the same session).

        Raises:
            TransferFailed: Twilio refused, or the stream did not come (the call then ends).
        """
        assert self._call_sid is not None
        try:
            await self._rest.update_twiml(self._call_sid, stream_twiml(self._route, self._call_id))
            stream = await asyncio.wait_for(asyncio.shield(arrival), NEXT_STREAM_SECS)
        except (TwilioRestError, TimeoutError) as e:
            self._stay()
            raise TransferFailed(f"the caller could not be taken back: {e}") from None
        await self._carry_on(stream)

    def _let_go(self) -> None:
        """The caller is with a person: no stream is coming back; our media ends here."""
        self._route.handovers.forget(self._call_id)
        self.transport().use_socket(None)

    async def send_dtmf(self, digits: str) -> None:
        """Play keys on the call, then carry the call on on a new media stream.

        Twilio cannot put tones into a Media Stream, so the live call is updated with
        ``<Play digits>`` followed by ``<Connect><Stream>`` with this call's id and
        token. Twilio stops the current stream (that ``stop`` is no hang-up: the
        serializer knows the stream is moving), plays the keys, and opens a new stream,
        which the media route hands to this leg: the same session, pipeline and
        transcript go on, on the new socket.

        Raises:
            NotSupported: No REST credentials or call SID.
            DtmfFailed: Twilio refused the update (the call goes on as it was), or the
                new stream did not come (the call then ends as disconnected).
        """
        if reason := self.cannot_transfer():
            raise NotSupported(reason)
        assert self._call_sid is not None
        arrival = self._route.handovers.expect(self._call_id)
        self._serializer.moving = True
        self.transport().expect_new_socket()
        try:
            await self._rest.update_twiml(
                self._call_sid, keys_twiml(digits, self._route, self._call_id)
            )
            stream = await asyncio.wait_for(
                asyncio.shield(arrival), NEXT_STREAM_SECS + SECS_PER_KEY * len(digits)
            )
        except TwilioRestError as e:
            self._stay()
            raise DtmfFailed(str(e)) from None
        except TimeoutError:
            if not arrival.done() or arrival.cancelled():
                self._stay()
                raise DtmfFailed("Twilio did not stream the call to us again") from None
            stream = arrival.result()  # it came as the wait ran out
        except asyncio.CancelledError:
            self._stay()
            if arrival.done() and not arrival.cancelled():
                arrival.result().released.set()
            raise
        await self._carry_on(stream)

    def _stay(self) -> None:
        """No new stream is coming: the call goes on on its stream, while that one lasts."""
        self._route.handovers.forget(self._call_id)
        self._serializer.moving = False
        self.transport().use_socket(None)

    async def _carry_on(self, stream: MediaStream) -> None:
        """Move the media to the call's new stream and let the old one go."""
        old, self._stream = self._stream, stream
        self._serializer.resume(stream.stream_sid)
        self.transport().use_socket(stream.ws)
        logger.info(f"call {self._call_id}: media moved to stream {stream.stream_sid}")
        if not old.ws.closed:
            await old.ws.close()
        old.released.set()
