"""A warm transfer on Twilio: the caller holds in a conference while agents are rung into it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from loguru import logger
from twilio.twiml.voice_response import Dial, VoiceResponse

from agent.tools import TransferFailed
from telephony.desk.plan import AgentRing, WarmPlan
from telephony.twilio.rest import TwilioRest

# How long Twilio may take to move the caller into the conference.
JOIN_TIMEOUT_SECS = 15.0
# Beyond an agent's ring timeout, how long we wait for Twilio to say how the ringing ended.
RING_MARGIN_SECS = 10.0
# A whisper's <Say> is read at about this many words a second (the wait for its end).
WORDS_PER_SEC = 2.5
AGENT_EVENTS = ["initiated", "ringing", "answered", "completed"]
MISSED = ("no-answer", "busy", "failed", "canceled", "completed")


@dataclass(frozen=True)
class ConferenceEvent:
    """A callback about a warm transfer's conference or one of its calls.

    Parameters:
        kind: A conference event (``participant-join``, ``participant-leave``...), a call
            status of a participant (``ringing``, ``in-progress``, ``no-answer``...), or
            ``whispered`` (the whisper was said).
        call_sid: The call it is about.
        conference_sid: The conference's SID, when the callback names it.
    """

    kind: str
    call_sid: str
    conference_sid: str | None = None


class ConferenceEvents:
    """Twilio's callbacks for the warm transfers running here, by transfer id.

    The transfer ``open``\\ s its queue and reads it; the callback routes ``put`` into it.
    The whisper said to the agent is kept here too, for the route Twilio fetches it from.
    """

    def __init__(self) -> None:
        """No transfer runs yet."""
        self._queues: dict[str, asyncio.Queue[ConferenceEvent]] = {}
        self._whispers: dict[str, str] = {}

    def open(self, transfer_id: str, whisper: str) -> asyncio.Queue[ConferenceEvent]:
        """Start taking callbacks for a transfer."""
        self._whispers[transfer_id] = whisper
        return self._queues.setdefault(transfer_id, asyncio.Queue())

    def close(self, transfer_id: str) -> None:
        """The transfer is over: later callbacks are ignored."""
        self._queues.pop(transfer_id, None)
        self._whispers.pop(transfer_id, None)

    def put(self, transfer_id: str, event: ConferenceEvent) -> bool:
        """Hand a callback to its transfer; False when no such transfer runs here."""
        queue = self._queues.get(transfer_id)
        if queue is None:
            return False
        queue.put_nowait(event)
        return True

    def whisper(self, transfer_id: str) -> str | None:
        """What the agent of a running transfer is told."""
        return self._whispers.get(transfer_id)


@dataclass(frozen=True)
class TransferUrls:
    """Where Twilio reaches us about one transfer (under the server's public URL)."""

    events: str
    hold: str
    whisper: str

    @classmethod
    def under(cls, public_url: str, transfer_id: str) -> TransferUrls:
        """The transfer's callback, hold-music and whisper URLs."""
        base, query = (
            public_url.rstrip("/") + "/twilio/transfer",
            f"?transferId={quote(transfer_id)}",
        )
        return cls(base + "/events" + query, base + "/hold", base + "/whisper" + query)


def conference_twiml(name: str, urls: TransferUrls) -> str:
    """TwiML that puts the caller in the transfer's conference, with music until it starts."""
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        name,
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep=False,
        wait_url=urls.hold,
        wait_method="GET",
        status_callback=urls.events,
        status_callback_event="start end join leave hold",
    )
    response.append(dial)
    return str(response)


class ConferenceTransfer:
    """The Twilio side of one warm transfer: hold the caller, ring, whisper, bridge."""

    def __init__(
        self,
        rest: TwilioRest,
        events: asyncio.Queue[ConferenceEvent],
        urls: TransferUrls,
        caller_sid: str,
        caller_id: str,
        plan: WarmPlan,
    ):
        """Bind to the caller's call and the transfer's callbacks."""
        self._rest, self._events, self._urls = rest, events, urls
        self._caller, self._caller_id, self._plan = caller_sid, caller_id, plan
        self.conference_sid = ""
        self.caller_left = False

    async def hold_caller(self) -> None:
        """Once the caller is in the conference, hold them (music) so no agent hears them yet.

        Raises:
            TimeoutError: The caller never joined.
            TransferFailed: They hung up first.
        """
        joined = await self._next(
            lambda e: e.call_sid == self._caller and e.kind == "participant-join",
            JOIN_TIMEOUT_SECS,
        )
        if joined is None:
            raise TimeoutError("the caller did not join the transfer's conference")
        self.conference_sid = joined.conference_sid or ""
        await self._rest.update_participant(
            self.conference_sid,
            self._caller,
            hold=True,
            hold_url=self._urls.hold,
            hold_method="GET",
        )

    async def ring(self, agent: AgentRing) -> str:
        """Ring one agent; ``bridged`` once they are talking to the caller, else why not."""
        sid = await self._rest.add_participant(
            self.conference_sid,
            from_=self._caller_id,
            to=agent.destination.target,
            label=f"agent-{agent.agent_id}",
            early_media=True,
            beep="false",
            start_conference_on_enter=True,
            end_conference_on_exit=True,
            timeout=int(agent.ring_timeout),
            status_callback=self._urls.events,
            status_callback_event=AGENT_EVENTS,
        )
        outcome = await self._until_answered(sid, agent)
        if outcome != "answered":
            return outcome
        await self._plan.answered(agent)
        await self._rest.update_participant(
            self.conference_sid, sid, announce_url=self._urls.whisper
        )
        said = len(self._plan.whisper.split()) / WORDS_PER_SEC + 5.0
        if await self._next(lambda e: e.kind == "whispered" and e.call_sid == sid, said) is None:
            logger.warning(f"transfer {self._plan.transfer_id}: no end of whisper heard; bridging")
        if self.caller_left:
            raise TransferFailed("the caller hung up while on hold")
        await self._rest.update_participant(self.conference_sid, self._caller, hold=False)
        await self._plan.bridged(agent)
        return "bridged"

    async def _until_answered(self, sid: str, agent: AgentRing) -> str:
        declined = self._plan.declined(agent)
        deadline = time.monotonic() + agent.ring_timeout + RING_MARGIN_SECS
        while (left := deadline - time.monotonic()) > 0:
            event = await self._next(lambda e: e.call_sid in (sid, self._caller), left, declined)
            if declined.done():
                await self._hang_up(sid)
                return "declined"
            if event is None:
                break
            if self.caller_left:
                await self._hang_up(sid)
                raise TransferFailed("the caller hung up while on hold")
            if event.kind == "ringing":
                await self._plan.ringing(agent)
            elif event.kind in ("in-progress", "answered"):
                return "answered"
            elif event.kind in MISSED:
                return event.kind
        await self._hang_up(sid)
        return "no-answer"

    async def _hang_up(self, sid: str) -> None:
        try:
            await self._rest.end_call(sid)
        except Exception as e:  # the leg may be gone already
            logger.debug(f"transfer {self._plan.transfer_id}: hanging up {sid}: {e}")

    async def _next(
        self,
        wanted: Callable[[ConferenceEvent], bool],
        timeout: float,
        stop: asyncio.Future[None] | None = None,
    ) -> ConferenceEvent | None:
        """The next callback ``wanted`` (None on time out or ``stop``); notes the caller leaving."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not (stop and stop.done()):
            getting = asyncio.ensure_future(self._events.get())
            waits = [getting, *([stop] if stop else [])]
            done, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                return None
            event = getting.result()
            if event.call_sid == self._caller and event.kind == "participant-leave":
                self.caller_left = True
            if wanted(event):
                return event
        return None
