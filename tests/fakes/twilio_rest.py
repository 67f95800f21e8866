"""A fake Twilio REST API on 127.0.0.1: creates and updates calls, then calls back like Twilio.

It speaks Twilio's documented wire format: ``POST /2010-04-01/Accounts/{sid}/Calls.json``
(form fields To, From, Url, StatusCallback, StatusCallbackEvent, MachineDetection,
AsyncAmd, AsyncAmdStatusCallback...) answered with a Call resource as JSON, errors as
``{"code", "message", "more_info", "status"}``, and ``POST .../Calls/{CallSid}.json``
to update a live call (``Status=completed``, ``Twiml``); ``GET .../Calls/{CallSid}.json``
describes one (status, start and end time). After a create it plays the
call's life through signed webhooks: status callbacks (initiated, ringing, then
in-progress/completed, no-answer, busy or failed), the answer ``Url`` when the call is
answered, and the async AMD result to ``AsyncAmdStatusCallback``.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes import CallingBack
from tests.fakes.twilio_conference import ConferenceApi, FakeConference


@dataclass
class CallUpdate:
    """One ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` as received."""

    account_sid: str
    call_sid: str
    form: dict[str, str]
    username: str | None

    @property
    def twiml(self) -> str:
        """The ``Twiml`` form field."""
        return self.form.get("Twiml", "")


# What happens when a number is dialled.
ANSWER, NO_ANSWER, BUSY, FAIL, MACHINE, INVALID = (
    "answer",
    "no-answer",
    "busy",
    "failed",
    "machine",
    "invalid",
)


@dataclass
class FakeCall:
    """One call the fake placed."""

    sid: str
    to: str
    from_: str
    params: dict[str, list[str]]
    created: float
    ended: float | None = None
    status: str = "queued"
    updates: list[dict[str, str]] = field(default_factory=list)


@dataclass
class FakeTwilio(ConferenceApi, CallingBack):
    """The fake API. ``scenarios``: what happens when a number is called (default: answer).

    Parameters:
        account_sid: The account the API accepts (HTTP basic auth with ``auth_token``).
        auth_token: Checks requests and signs callbacks.
        ring_secs: Seconds between ringing and the outcome.
        talk_secs: How long an answered call lasts unless hung up earlier.
        on_answer: When set, an answered call's TwiML is handed to it (e.g. to stream
            media with a call simulator) and the call completes when it returns.
        fail_with: Answer call updates with this HTTP status and Twilio's error body
            (e.g. 400 when the call is no longer in progress).
        refuse_calls: Answer every call creation with this (HTTP status, Twilio code,
            message): an outage (503, 20503) or a suspended account.
        live_media: Calls whose media a call simulator plays, by CallSid: the ``Twiml``
            of an accepted update is run by it (``CallSimulator.run_twiml``), as Twilio
            runs new TwiML on a live call.

        ring_delays: Ring time by number, where not ``ring_secs`` (an agent slow to answer).
        say_secs: How long each ``<Say>`` of an announcement (a whisper) lasts.

    Updates to calls it did not place (inbound calls of the call simulator) are
    accepted and recorded too, in ``updates``. Conferences and their participants are
    in ``conferences`` (see :mod:`tests.fakes.twilio_conference`), the moments of
    every call and conference in ``timeline``.
    """

    account_sid: str = "AC" + "1" * 32
    auth_token: str = "fake-twilio-token"
    ring_secs: float = 0.05
    talk_secs: float = 0.2
    scenarios: dict[str, str] = field(default_factory=dict)
    on_answer: Callable[[FakeCall, str], Awaitable[None]] | None = None
    amd_delay_secs: float = 1.5
    calls: list[FakeCall] = field(default_factory=list)
    updates: list[CallUpdate] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    fail_with: int | None = None
    refuse_calls: tuple[int, int, str] | None = None
    live_media: dict[str, Callable[[str], Awaitable[None]]] = field(default_factory=dict)
    ring_delays: dict[str, float] = field(default_factory=dict)
    say_secs: float = 0.3
    conferences: dict[str, FakeConference] = field(default_factory=dict)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    url: str = ""
    max_active: int = 0
    overlapping_numbers: set[str] = field(default_factory=set)
    _active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _http: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        base = "/2010-04-01/Accounts/{account}/Calls"
        app.router.add_post(base + ".json", self._create)
        app.router.add_post(base + "/{sid}.json", self._update)
        app.router.add_get(base + "/{sid}.json", self._fetch_call)
        self.conference_routes(app)

    def dialled(self, number: str) -> int:
        """How many calls went to ``number``."""
        return sum(1 for c in self.calls if c.to == number)

    # REST API

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request) or request.match_info["account"] != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        form = await request.post()
        params: dict[str, list[str]] = defaultdict(list)
        for key, value in form.items():
            params[key].append(str(value))
        to = params.get("To", [""])[0]
        if not to or not params.get("Url"):
            return self._error(400, 21205, "Url parameter is required.")
        if self.refuse_calls:  # an outage, or an account Twilio stopped: (status, code, message)
            return self._error(*self.refuse_calls)
        if self.scenarios.get(to) == INVALID:
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        call = FakeCall(
            sid="CA" + uuid.uuid4().hex,
            to=to,
            from_=params["From"][0],
            params=params,
            created=time.time(),
        )
        self.calls.append(call)
        self._active[to] += 1
        if self._active[to] > 1:
            self.overlapping_numbers.add(to)
        self.max_active = max(self.max_active, sum(self._active.values()))
        self.spawn(self._play(call, self.scenarios.get(to, ANSWER)))
        return web.json_response(self._resource(call), status=201)

    def _username(self, request: web.Request) -> str | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user if password == self.auth_token else None

    async def _update(self, request: web.Request) -> web.Response:
        account, sid = request.match_info["account"], request.match_info["sid"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        username = self._username(request)
        self.updates.append(CallUpdate(account, sid, form, username))
        if username != account or account != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        if self.fail_with:
            return self._error(self.fail_with, 21220, "Call is not in-progress. Cannot redirect.")
        if form.get("Twiml"):
            self.mark(f"update:{sid}")
            self.run_conference_twiml(sid, form["Twiml"])
        if form.get("Twiml") and sid in self.live_media:
            self.spawn(self.live_media[sid](form["Twiml"]))
        call = next((c for c in self.calls if c.sid == sid), None)
        if call is None:  # a call placed elsewhere (e.g. an inbound call of the simulator)
            return web.json_response(
                {
                    "sid": sid,
                    "account_sid": account,
                    "status": "in-progress",
                    "uri": request.path,
                    "direction": "inbound",
                }
            )
        call.updates.append(form)
        if form.get("Status") == "completed" and call.ended is None:
            call.status = "completed"
        return web.json_response(self._resource(call))

    def know(self, sid: str, status: str, *, ended: float | None = None) -> FakeCall:
        """A call placed elsewhere (e.g. the call simulator's) that ``GET`` then describes."""
        call = FakeCall(sid, "", "", {}, time.time(), ended=ended, status=status)
        self.calls.append(call)
        return call

    async def _fetch_call(self, request: web.Request) -> web.Response:
        account, sid = request.match_info["account"], request.match_info["sid"]
        self.fetched.append(sid)
        if self._username(request) != account or account != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        call = next((c for c in self.calls if c.sid == sid), None)
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(self._resource(call))

    def _resource(self, call: FakeCall) -> dict[str, Any]:
        return {
            "start_time": _rfc2822(call.created),
            "end_time": _rfc2822(call.ended) if call.ended else None,
            "duration": str(round(call.ended - call.created)) if call.ended else None,
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": _rfc2822(call.created),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }

    # The call's life, as callbacks

    async def _post(self, url: str | None, form: dict[str, str]) -> str:
        if not url or self._http is None:
            return ""
        signature = RequestValidator(self.auth_token).compute_signature(url, form)
        try:
            async with self._http.post(
                url, data=form, headers={"X-Twilio-Signature": signature}
            ) as response:
                return await response.text()
        except aiohttp.ClientError:
            return ""

    async def _status(self, call: FakeCall, status: str, **extra: str) -> None:
        call.status = status
        form = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.from_,
            "To": call.to,
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        await self._post(call.params.get("StatusCallback", [None])[0], form)

    async def _play(self, call: FakeCall, scenario: str) -> None:
        try:
            await self._status(call, "initiated")
            await self._status(call, "ringing")
            await asyncio.sleep(self.ring_secs)
            if scenario in (NO_ANSWER, BUSY, FAIL):
                await self._status(call, scenario)
                return
            answer = {
                "CallSid": call.sid,
                "AccountSid": self.account_sid,
                "From": call.from_,
                "To": call.to,
                "CallStatus": "in-progress",
                "Direction": "outbound-api",
                "ApiVersion": "2010-04-01",
            }
            twiml = await self._post(call.params["Url"][0], answer)
            await self._status(call, "in-progress")
            amd = None
            if scenario == MACHINE and call.params.get("AsyncAmdStatusCallback"):
                amd = asyncio.create_task(self._machine_detected(call))
            started = time.monotonic()
            if self.on_answer is not None:
                await self.on_answer(call, twiml)
            if amd is not None:
                await amd
            while (
                self.on_answer is None
                and call.status != "completed"
                and time.monotonic() - started < self.talk_secs
            ):
                await asyncio.sleep(0.01)
            await self._status(
                call, "completed", CallDuration=str(max(1, round(time.monotonic() - started)))
            )
        finally:
            call.ended = time.time()
            self._active[call.to] -= 1

    async def _machine_detected(self, call: FakeCall) -> None:
        """DetectMessageEnd reports after the greeting and beep: later when media is streamed."""
        if self.on_answer is not None:
            await asyncio.sleep(self.amd_delay_secs)
        await self._post(
            call.params["AsyncAmdStatusCallback"][0],
            {
                "CallSid": call.sid,
                "AccountSid": self.account_sid,
                "AnsweredBy": "machine_end_beep",
                "MachineDetectionDuration": "3500",
            },
        )


def _rfc2822(timestamp: float) -> str:
    """A time as Twilio's JSON writes it."""
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(timestamp))
