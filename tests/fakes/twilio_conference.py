"""The fake Twilio's Conference and Participant resources, as Twilio documents them.

- A live call updated with ``<Dial><Conference>name</Conference></Dial>`` joins the conference
  (created on first use, ``CF...`` sid); one updated with other TwiML leaves it. The
  conference's ``statusCallback`` gets ``participant-join``/``-leave``/``-hold``/``-unhold``,
  ``conference-start`` and ``-end`` (``StatusCallbackEvent``, ``ConferenceSid``,
  ``FriendlyName``, ``CallSid``, ``Label``...).
- ``POST .../Conferences/{ConferenceSid}/Participants.json`` (the sid or the friendly name)
  dials ``To`` from ``From`` with ``Label``, ``EarlyMedia``, ``Beep``, ``Coaching``,
  ``CallSidToCoach``, ``StartConferenceOnEnter``, ``EndConferenceOnExit``, ``Timeout``,
  ``StatusCallback`` and ``StatusCallbackEvent`` (``initiated ringing answered completed``):
  the participant's call status callbacks follow, and it joins when answered.
- ``POST .../Participants/{CallSid}.json`` updates ``Hold``/``HoldUrl`` (the hold TwiML is
  fetched with GET), ``Muted``, ``Coaching``, ``AnnounceUrl`` (fetched with POST and
  "said" to that participant only: its ``<Say>`` takes ``say_secs``, then a ``<Redirect>``
  is followed, as Twilio does); ``DELETE`` removes a participant.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ANSWERED_STATUSES = ("in-progress",)
CONFERENCES = "/2010-04-01/Accounts/{account}/Conferences"


@dataclass
class FakeParticipant:
    """One call in a conference (or being dialled into one)."""

    call_sid: str
    label: str | None = None
    status: str = "connected"  # queued, connecting, ringing, connected, complete, failed
    hold: bool = False
    muted: bool = False
    coaching: bool = False
    call_sid_to_coach: str | None = None
    early_media: bool = False
    beep: str = "true"
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    params: dict[str, str] = field(default_factory=dict)
    hold_twiml: list[str] = field(default_factory=list)
    announcements: list[str] = field(default_factory=list)  # TwiML it alone heard


@dataclass
class FakeConference:
    """A conference: its participants by CallSid, and every callback it sent."""

    sid: str
    name: str
    status_callback: str | None = None
    status: str = "init"  # init, in-progress, completed
    participants: dict[str, FakeParticipant] = field(default_factory=dict)
    events: list[dict[str, str]] = field(default_factory=list)
    left: list[FakeParticipant] = field(default_factory=list)

    def by_label(self, label: str) -> FakeParticipant | None:
        """The participant with ``label`` (still in, or gone)."""
        found = [p for p in [*self.participants.values(), *self.left] if p.label == label]
        return found[-1] if found else None


def _bool(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.lower() == "true"


class ConferenceApi:
    """Mixed into ``FakeTwilio``: conferences, participants, and the timeline of both.

    Needs ``account_sid``, ``calls``, ``ring_secs``, ``scenarios``, ``spawn``, ``_post``,
    ``_error``, ``_username``, ``_http`` and these attributes: ``conferences`` (by name),
    ``ring_delays`` (seconds by number), ``say_secs``, ``timeline`` ((monotonic, what) pairs).
    """

    conferences: dict[str, FakeConference]
    ring_delays: dict[str, float]
    say_secs: float
    timeline: list[tuple[float, str]]

    def conference_routes(self, app: web.Application) -> None:
        app.router.add_get(CONFERENCES + "/{sid}.json", self._get_conference)
        app.router.add_post(CONFERENCES + "/{sid}/Participants.json", self._add_participant)
        app.router.add_post(
            CONFERENCES + "/{sid}/Participants/{call}.json", self._update_participant
        )
        app.router.add_delete(
            CONFERENCES + "/{sid}/Participants/{call}.json", self._remove_participant
        )

    async def hang_up_call(self, call_sid: str) -> None:
        """Someone on a conference call hangs up: they leave (and may end the conference)."""
        conference = self.conference_of(call_sid)
        call = self._call(call_sid)
        if call is not None:
            call.status = "completed"
        if conference is not None:
            await self._leave(conference, call_sid)

    async def end_conferences(self) -> None:
        """Every conference ends (everyone hangs up)."""
        for conference in list(self.conferences.values()):
            await self._end(conference)

    async def stop(self) -> None:
        """End every conference, then let every call play out and shut down."""
        await self.end_conferences()
        await super().stop()  # type: ignore[misc]

    def mark(self, what: str) -> None:
        """Note a moment of the fake's life (tests measure between them)."""
        self.timeline.append((time.monotonic(), what))

    def conference_of(self, call_sid: str) -> FakeConference | None:
        """The conference a call is in now."""
        return next((c for c in self.conferences.values() if call_sid in c.participants), None)

    # TwiML on a live call

    def run_conference_twiml(self, call_sid: str, twiml: str) -> None:
        """A live-call update: join a ``<Conference>``, or leave the one the call is in."""
        joined = _conference_verb(twiml)
        current = self.conference_of(call_sid)
        if current is not None and (joined is None or joined.text != current.name):
            self.spawn(self._leave(current, call_sid))
        if joined is not None:
            name = (joined.text or "").strip()
            conference = self._conference(name, joined.get("statusCallback"))
            participant = FakeParticipant(
                call_sid,
                beep=joined.get("beep", "true"),
                start_conference_on_enter=_bool(joined.get("startConferenceOnEnter"), True),
                end_conference_on_exit=_bool(joined.get("endConferenceOnExit")),
                params=dict(joined.attrib),
            )
            self.spawn(self._join(conference, participant))

    def _conference(self, name: str, status_callback: str | None = None) -> FakeConference:
        conference = self.conferences.get(name)
        if conference is None:
            conference = FakeConference("CF" + uuid.uuid4().hex, name)
            self.conferences[name] = conference
        conference.status_callback = conference.status_callback or status_callback
        return conference

    async def _event(self, conference: FakeConference, event: str, **fields: str) -> None:
        form = {
            "AccountSid": self.account_sid,  # type: ignore[attr-defined]
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.name,
            "StatusCallbackEvent": event,
            "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "SequenceNumber": str(len(conference.events) + 1),
            **fields,
        }
        conference.events.append(form)
        self.mark(f"conference:{event}:{fields.get('Label') or fields.get('CallSid', '')}")
        await self._post(conference.status_callback, form)  # type: ignore[attr-defined]

    def _who(self, participant: FakeParticipant) -> dict[str, str]:
        return {
            "CallSid": participant.call_sid,
            "Label": participant.label or "",
            "Hold": str(participant.hold).lower(),
            "Muted": str(participant.muted).lower(),
            "Coaching": str(participant.coaching).lower(),
            "EndConferenceOnExit": str(participant.end_conference_on_exit).lower(),
            "StartConferenceOnEnter": str(participant.start_conference_on_enter).lower(),
        }

    async def _join(self, conference: FakeConference, participant: FakeParticipant) -> None:
        conference.participants[participant.call_sid] = participant
        participant.status = "connected"
        await self._event(conference, "participant-join", **self._who(participant))
        if conference.status == "init" and participant.start_conference_on_enter:
            conference.status = "in-progress"
            await self._event(conference, "conference-start")

    async def _leave(self, conference: FakeConference, call_sid: str) -> None:
        participant = conference.participants.pop(call_sid, None)
        if participant is None:
            return
        participant.status = "complete"
        conference.left.append(participant)
        await self._event(conference, "participant-leave", **self._who(participant))
        if participant.end_conference_on_exit or not conference.participants:
            await self._end(conference)

    async def _end(self, conference: FakeConference) -> None:
        if conference.status == "completed":
            return
        conference.status = "completed"
        for sid in list(conference.participants):
            await self._leave(conference, sid)
            call = self._call(sid)
            if call is not None and call.status != "completed":
                call.status = "completed"
        await self._event(conference, "conference-end")

    def _call(self, sid: str):
        return next((c for c in self.calls if c.sid == sid), None)  # type: ignore[attr-defined]

    # The REST resources

    def _find(self, request: web.Request) -> FakeConference | None:
        key = request.match_info["sid"]
        return next(
            (c for c in self.conferences.values() if key in (c.sid, c.name)),
            None,
        )

    def _conference_json(self, conference: FakeConference) -> dict[str, Any]:
        return {
            "sid": conference.sid,
            "account_sid": self.account_sid,  # type: ignore[attr-defined]
            "friendly_name": conference.name,
            "status": conference.status,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Conferences/{conference.sid}.json",  # type: ignore[attr-defined]
        }

    def _participant_json(self, conference: FakeConference, p: FakeParticipant) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,  # type: ignore[attr-defined]
            "call_sid": p.call_sid,
            "conference_sid": conference.sid,
            "label": p.label,
            "status": p.status,
            "hold": p.hold,
            "muted": p.muted,
            "coaching": p.coaching,
            "call_sid_to_coach": p.call_sid_to_coach,
            "start_conference_on_enter": p.start_conference_on_enter,
            "end_conference_on_exit": p.end_conference_on_exit,
            "uri": (
                f"/2010-04-01/Accounts/{self.account_sid}/Conferences/{conference.sid}"  # type: ignore[attr-defined]
                f"/Participants/{p.call_sid}.json"
            ),
        }

    def _refused(self, request: web.Request) -> web.Response | None:
        account = request.match_info["account"]
        if self._username(request) != account or account != self.account_sid:  # type: ignore[attr-defined]
            return self._error(401, 20003, "Authenticate")  # type: ignore[attr-defined]
        return None

    async def _get_conference(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        conference = self._find(request)
        if conference is None:
            return self._error(404, 20404, "The requested resource was not found")  # type: ignore[attr-defined]
        return web.json_response(self._conference_json(conference))

    async def _add_participant(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        posted = await request.post()
        # Lists (StatusCallbackEvent) come as repeated fields, or spaced as the docs show them.
        form = {k: " ".join(str(v) for v in posted.getall(k)) for k in set(posted.keys())}
        if not form.get("To") or not form.get("From"):
            return self._error(400, 21604, "'To' and 'From' are required")  # type: ignore[attr-defined]
        conference = self._find(request) or self._conference(request.match_info["sid"])
        from tests.fakes.twilio_rest import FakeCall

        call = FakeCall(
            sid="CA" + uuid.uuid4().hex,
            to=form["To"],
            from_=form["From"],
            params={k: [v] for k, v in form.items()},
            created=time.time(),
        )
        self.calls.append(call)  # type: ignore[attr-defined]
        participant = FakeParticipant(
            call.sid,
            label=form.get("Label"),
            status="queued",
            muted=_bool(form.get("Muted")),
            coaching=_bool(form.get("Coaching")),
            call_sid_to_coach=form.get("CallSidToCoach"),
            early_media=_bool(form.get("EarlyMedia")),
            beep=form.get("Beep", "true"),
            start_conference_on_enter=_bool(form.get("StartConferenceOnEnter"), True),
            end_conference_on_exit=_bool(form.get("EndConferenceOnExit")),
            params=form,
        )
        self.mark(f"participant:create:{participant.label or call.to}")
        self.spawn(self._dial_participant(conference, participant, call))
        return web.json_response(self._participant_json(conference, participant), status=201)

    async def _participant_status(self, participant: FakeParticipant, call, status: str) -> None:
        wanted = participant.params.get("StatusCallbackEvent", "completed").split()
        event = {"in-progress": "answered"}.get(status, status)
        if status in ("busy", "no-answer", "failed", "canceled"):
            event = "completed"
        call.status = status
        self.mark(f"participant:{status}:{participant.label or call.to}")
        if event not in wanted:
            return
        form = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,  # type: ignore[attr-defined]
            "From": call.from_,
            "To": call.to,
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "SequenceNumber": str(len(participant.announcements)),
        }
        await self._post(participant.params.get("StatusCallback"), form)  # type: ignore[attr-defined]

    async def _dial_participant(self, conference: FakeConference, participant, call) -> None:
        scenario = self.scenarios.get(call.to, "answer")  # type: ignore[attr-defined]
        await self._participant_status(participant, call, "initiated")
        participant.status = "ringing"
        await self._participant_status(participant, call, "ringing")
        delay = self.ring_delays.get(call.to, self.ring_secs)  # type: ignore[attr-defined]
        timeout = float(participant.params.get("Timeout") or 60)
        waited = 0.0
        while waited < min(delay, timeout) and call.status == "ringing":
            await asyncio.sleep(0.02)
            waited += 0.02
        if call.status == "completed":  # hung up by us while ringing
            call.ended = time.time()
            return await self._participant_status(participant, call, "canceled")
        if scenario in ("no-answer", "busy", "failed") or delay > timeout:
            call.ended = time.time()
            outcome = scenario if scenario in ("busy", "failed") else "no-answer"
            return await self._participant_status(participant, call, outcome)
        await self._participant_status(participant, call, "in-progress")
        await self._join(conference, participant)
        while call.status != "completed" and participant.call_sid in conference.participants:
            await asyncio.sleep(0.02)
        await self._leave(conference, participant.call_sid)
        call.ended = time.time()
        await self._participant_status(participant, call, "completed")

    async def _update_participant(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        conference = self._find(request)
        call_sid = request.match_info["call"]
        participant = conference.participants.get(call_sid) if conference else None
        if conference is None or participant is None:
            return self._error(404, 20404, "The requested resource was not found")  # type: ignore[attr-defined]
        form = {k: str(v) for k, v in (await request.post()).items()}
        for name in ("Muted", "Coaching"):
            if name in form:
                setattr(participant, name.lower(), _bool(form[name]))
        if "CallSidToCoach" in form:
            participant.call_sid_to_coach = form["CallSidToCoach"]
        if "Hold" in form and _bool(form["Hold"]) != participant.hold:
            participant.hold = _bool(form["Hold"])
            if participant.hold and form.get("HoldUrl"):
                participant.hold_twiml.append(await self._fetch(form["HoldUrl"], "GET"))
            event = "participant-hold" if participant.hold else "participant-unhold"
            await self._event(conference, event, **self._who(participant))
        if form.get("AnnounceUrl"):
            self.spawn(self._announce(participant, form["AnnounceUrl"]))
        return web.json_response(self._participant_json(conference, participant))

    async def _announce(self, participant: FakeParticipant, url: str) -> None:
        """Say the announcement to this participant alone, then follow its ``<Redirect>``."""
        twiml = await self._fetch(url, "POST", {"CallSid": participant.call_sid})
        participant.announcements.append(twiml)
        self.mark(f"announce:fetched:{participant.label or participant.call_sid}")
        for verb in ET.fromstring(twiml or "<Response/>"):
            if verb.tag == "Say":
                await asyncio.sleep(self.say_secs)
            elif verb.tag == "Redirect" and verb.text:
                self.mark(f"announce:done:{participant.label or participant.call_sid}")
                await self._fetch(verb.text.strip(), "POST", {"CallSid": participant.call_sid})

    async def _fetch(self, url: str, method: str, form: dict[str, str] | None = None) -> str:
        form = {"AccountSid": self.account_sid, **(form or {})}  # type: ignore[attr-defined]
        if method == "POST":
            return await self._post(url, form)  # type: ignore[attr-defined]
        async with self._http.get(url) as response:  # type: ignore[attr-defined]
            return await response.text()

    async def _remove_participant(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        conference = self._find(request)
        if conference is None or request.match_info["call"] not in conference.participants:
            return self._error(404, 20404, "The requested resource was not found")  # type: ignore[attr-defined]
        call = self._call(request.match_info["call"])
        if call is not None:
            call.status = "completed"
        await self._leave(conference, request.match_info["call"])
        return web.Response(status=204)


def _conference_verb(twiml: str) -> ET.Element | None:
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return None
    return root.find("./Dial/Conference")
