"""Plays Twilio against a running server: signed webhook, real-time media, marks and clear."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.request_validator import RequestValidator

from telephony.simulator.caller_audio import FRAME_BYTES, SILENCE, frames, ulaw_energy

TICK = 0.02  # Twilio sends and plays 20 ms frames
KEY_SECS = 0.2  # one key of <Play digits>: a tone and its gap (w: half a second)
SPEECH_ENERGY = 300.0  # RMS above which a played frame counts as the bot speaking


class SimulatorError(RuntimeError):
    """The server did not behave like a Twilio media stream endpoint."""


@dataclass
class Turn:
    """One caller line and the bot's answer, as the caller experienced them.

    Parameters:
        said: What the caller said (text or a file name).
        speech_secs: How long the caller spoke.
        voice_to_voice_ms: Caller's last speech frame sent → first bot audio received.
        reply_secs: Seconds of bot audio heard in reply.
        clear_ms: For a barge-in, caller's first speech frame → ``clear`` received.
    """

    said: str
    speech_secs: float
    voice_to_voice_ms: float | None = None
    reply_secs: float = 0.0
    clear_ms: float | None = None


@dataclass
class _Playback:
    """Twilio's playout buffer: audio frames and marks, played at real time."""

    items: deque = field(default_factory=deque)
    marks_echoed: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    heard: bytearray = field(default_factory=bytearray)
    last_speech_at: float = 0.0
    speech_frames: int = 0
    # Underruns: the buffer ran dry after bot audio and more bot audio came later (seconds).
    gaps: list[float] = field(default_factory=list)
    starved_at: float | None = None
    playing: bool = False


class CallSimulator:
    """A caller on a simulated Twilio call to a running server.

    Use as ``async with CallSimulator(url) as call:`` then :meth:`wait_for_bot`,
    :meth:`say`, :meth:`barge_in`; leaving the block sends ``stop`` and closes.
    """

    def __init__(
        self,
        server_url: str,
        *,
        auth_token: str = "",
        public_url: str = "",
        from_number: str = "+15555550100",
        to_number: str = "+15555550199",
        direction: str = "inbound",
    ):
        """Prepare a call.

        Args:
            server_url: Where the server listens (http://127.0.0.1:8080).
            auth_token: TWILIO_AUTH_TOKEN of the server, to sign the webhook like Twilio.
            public_url: The server's PUBLIC_URL, if it differs from ``server_url``
                (the URL Twilio signs; the stream URL is then rewritten to ``server_url``).
            from_number: The caller's number.
            to_number: The number called.
            direction: ``inbound`` or ``outbound-api``.
        """
        self.server_url = server_url.rstrip("/")
        self.public_url = (public_url or server_url).rstrip("/")
        self.auth_token = auth_token
        self.call_sid = "CA" + uuid.uuid4().hex
        self.account_sid = "AC" + "0" * 32
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.from_number, self.to_number, self.direction = from_number, to_number, direction
        self.call_id: str | None = None
        self.connected_at = 0.0
        self.greeting_ms: float | None = None
        self.turns: list[Turn] = []
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outgoing: deque[bytes] = deque()
        self._sent = bytearray()
        self._playback = _Playback()
        self._first_media_after: tuple[float, asyncio.Future[float]] | None = None
        self._clear_waiter: asyncio.Future[float] | None = None
        self._sequence = 0
        self._tasks: list[asyncio.Task] = []
        self.closed_by_server = asyncio.Event()
        self.keys_played: list[str] = []
        self.streams = 0

    async def __aenter__(self) -> CallSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.hang_up()

    # Call setup

    def signature(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a request, as Twilio computes it."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    async def post_webhook(
        self, path: str, params: dict[str, str], *, sign: bool = True
    ) -> aiohttp.ClientResponse:
        """POST a form to the server like Twilio does (signed when an auth token is known)."""
        assert self._http
        headers = {}
        if sign and self.auth_token:
            headers["X-Twilio-Signature"] = self.signature(self.public_url + path, params)
        return await self._http.post(self.server_url + path, data=params, headers=headers)

    async def start(self) -> None:
        """Ring the server, open the media stream and start sending audio in real time."""
        self._http = aiohttp.ClientSession()
        params = {
            "CallSid": self.call_sid,
            "AccountSid": self.account_sid,
            "From": self.from_number,
            "To": self.to_number,
            "CallStatus": "ringing",
            "Direction": self.direction,
            "ApiVersion": "2010-04-01",
        }
        async with await self.post_webhook("/twilio/voice", params) as response:
            body = await response.text()
            if response.status != 200:
                raise SimulatorError(f"/twilio/voice answered {response.status}: {body[:200]}")
        await self.connect(body)

    async def connect(self, twiml: str) -> None:
        """Open the media stream the TwiML names (for a call whose webhook was already answered)."""
        self._http = self._http or aiohttp.ClientSession()
        stream_url, custom = self._parse_twiml(twiml)
        self.call_id = custom.get("callId")
        self._ws = await self._http.ws_connect(self._reachable(stream_url), max_msg_size=0)
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "sequenceNumber": str(self._next_sequence()),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": custom,
                },
                "streamSid": self.stream_sid,
            }
        )
        self.connected_at = time.monotonic()
        self.streams += 1
        self._tasks = [
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._play_loop()),
        ]

    async def run_twiml(self, twiml: str) -> None:
        """Run new TwiML on this live call as Twilio does after a live-call update.

        The current stream stops (``stop``, then its socket closes; what was buffered
        for the caller is dropped), ``<Play digits>`` keys are pressed into the line
        (kept in :attr:`keys_played`), and ``<Connect><Stream>`` opens a new stream with a
        new ``streamSid`` for the rest of the call. Other verbs end our part of it.
        """
        await self._stop_stream()
        for verb in ET.fromstring(twiml):
            keys = verb.get("digits") if verb.tag == "Play" else None
            if keys:
                self.keys_played.append(keys)
                await asyncio.sleep(KEY_SECS * (len(keys) + keys.count("w")))
            elif verb.tag == "Connect":
                self.stream_sid = "MZ" + uuid.uuid4().hex
                self._sequence = 0
                await self.connect(twiml)
                return

    async def _stop_stream(self) -> None:
        """Twilio's ``stop`` on the current stream, then its socket closes; the call goes on."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._playback.items.clear()
        if self._ws is not None and not self._ws.closed:
            await self._send(
                {
                    "event": "stop",
                    "sequenceNumber": str(self._next_sequence()),
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                }
            )
            await self._ws.close()

    @staticmethod
    def _parse_twiml(body: str) -> tuple[str, dict[str, str]]:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise SimulatorError(f"/twilio/voice did not answer TwiML: {e}") from None
        stream = root.find("./Connect/Stream")
        if stream is None or not stream.get("url"):
            raise SimulatorError("TwiML has no <Connect><Stream url=...>")
        custom = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), custom

    def _reachable(self, stream_url: str) -> str:
        """The stream URL at the address we can reach (PUBLIC_URL may name a proxy)."""
        if self.public_url == self.server_url:
            return stream_url
        server = urlsplit(self.server_url)
        scheme = "wss" if server.scheme == "https" else "ws"
        return urlunsplit((scheme, server.netloc, urlsplit(stream_url).path, "", ""))

    # Media loops

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    async def _send(self, message: dict) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(message))

    async def _send_loop(self) -> None:
        """One 20 ms frame in per tick, on an absolute clock: speech if queued, else silence."""
        started, tick = time.monotonic(), 0
        while self._ws is not None and not self._ws.closed:
            frame = self._outgoing.popleft() if self._outgoing else SILENCE * FRAME_BYTES
            self._sent += frame
            await self._send(
                {
                    "event": "media",
                    "sequenceNumber": str(self._next_sequence()),
                    "media": {
                        "track": "inbound",
                        "chunk": str(tick + 1),
                        "timestamp": str(int(tick * TICK * 1000)),
                        "payload": base64.b64encode(frame).decode(),
                    },
                    "streamSid": self.stream_sid,
                }
            )
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * TICK - time.monotonic()))

    async def _receive_loop(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            kind = event.get("event")
            now = time.monotonic()
            if kind == "media":
                audio = base64.b64decode(event["media"]["payload"])
                self._playback.items.extend(
                    audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)
                )
                if self.greeting_ms is None:
                    self.greeting_ms = (now - self.connected_at) * 1000
                waiter = self._first_media_after
                if waiter and now >= waiter[0] and not waiter[1].done():
                    waiter[1].set_result(now)
            elif kind == "mark":
                self._playback.items.append(("mark", event["mark"]["name"]))
            elif kind == "clear":
                # Twilio drops what it buffered and returns every pending mark at once.
                pending = [item[1] for item in self._playback.items if isinstance(item, tuple)]
                self._playback.items.clear()
                self._playback.clears.append(now)
                self._playback.playing, self._playback.starved_at = False, None
                for name in pending:
                    await self._echo_mark(name)
                if self._clear_waiter and not self._clear_waiter.done():
                    self._clear_waiter.set_result(now)
        self.closed_by_server.set()

    async def _echo_mark(self, name: str) -> None:
        self._playback.marks_echoed.append(name)
        await self._send(
            {
                "event": "mark",
                "sequenceNumber": str(self._next_sequence()),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    async def _play_loop(self) -> None:
        """Play one 20 ms frame per tick; echo each mark once the audio before it has played."""
        started, tick = time.monotonic(), 0
        playback = self._playback
        while self._ws is not None and not self._ws.closed:
            while playback.items and isinstance(playback.items[0], tuple):
                await self._echo_mark(playback.items.popleft()[1])
            if playback.items:
                frame = playback.items.popleft()
                if playback.starved_at is not None:
                    playback.gaps.append(time.monotonic() - playback.starved_at)
                playback.playing, playback.starved_at = True, None
            else:
                frame = SILENCE * FRAME_BYTES
                if playback.playing and playback.starved_at is None:
                    playback.starved_at = time.monotonic()
            playback.heard += frame
            if frame is not None and ulaw_energy(frame) > SPEECH_ENERGY:
                playback.last_speech_at = time.monotonic()
                playback.speech_frames += 1
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * TICK - time.monotonic()))

    # Conversation

    @property
    def bot_speaking(self) -> bool:
        """Whether bot audio is playing or waiting to be played."""
        return any(isinstance(i, bytes) for i in self._playback.items)

    @property
    def marks_echoed(self) -> list[str]:
        """Names of the marks we returned to the server, in order."""
        return list(self._playback.marks_echoed)

    @property
    def playout_gaps(self) -> list[float]:
        """Seconds the bot's audio stalled mid-reply: the playout buffer ran dry and more of
        the same reply came later (counted from the greeting on, reset by each :meth:`say`)."""
        return list(self._playback.gaps)

    @property
    def clears(self) -> int:
        """How many ``clear`` messages the server sent."""
        return len(self._playback.clears)

    async def wait_for_bot(self, *, timeout: float = 30.0, quiet_secs: float = 1.2) -> float:
        """Wait for the bot to speak, then go quiet (or hang up); returns seconds of speech heard.

        Raises:
            TimeoutError: The bot said nothing (or never stopped) within ``timeout``.
        """
        playback = self._playback
        deadline = time.monotonic() + timeout
        frames_before = playback.speech_frames
        while playback.speech_frames == frames_before:
            if time.monotonic() > deadline or self.closed_by_server.is_set():
                raise TimeoutError("the bot did not speak")
            await asyncio.sleep(TICK)
        while self.bot_speaking or time.monotonic() - playback.last_speech_at < quiet_secs:
            if self.closed_by_server.is_set():
                break  # the server hung up: what was not played is never heard
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not stop speaking")
            await asyncio.sleep(TICK)
        return (playback.speech_frames - frames_before) * TICK

    async def speak(self, ulaw: bytes) -> float:
        """Queue caller speech; returns when its last frame has been sent (monotonic time)."""
        chunk = frames(ulaw)
        self._outgoing.extend(chunk)
        while self._outgoing:
            await asyncio.sleep(TICK / 2)
        return time.monotonic()

    async def say(self, ulaw: bytes, label: str, *, reply_timeout: float = 30.0) -> Turn:
        """Say a line and wait for the bot's answer; measures caller-side voice-to-voice."""
        turn = Turn(said=label, speech_secs=len(ulaw) / 8000)
        self._playback.playing, self._playback.starved_at = False, None  # a new reply comes
        loop = asyncio.get_running_loop()
        self._first_media_after = (float("inf"), loop.create_future())
        ended = await self.speak(ulaw)
        future: asyncio.Future[float] = loop.create_future()
        self._first_media_after = (ended, future)
        try:
            first = await asyncio.wait_for(future, timeout=reply_timeout)
            turn.voice_to_voice_ms = (first - ended) * 1000
            turn.reply_secs = await self.wait_for_bot(timeout=reply_timeout)
        except TimeoutError:
            pass
        self.turns.append(turn)
        return turn

    async def barge_in(self, ulaw: bytes, label: str, *, timeout: float = 10.0) -> Turn:
        """Talk over the bot; measures how long until the server sends ``clear``."""
        turn = Turn(said=label, speech_secs=len(ulaw) / 8000)
        self._clear_waiter = asyncio.get_running_loop().create_future()
        started = time.monotonic()
        self._outgoing.extend(frames(ulaw))
        try:
            cleared = await asyncio.wait_for(asyncio.shield(self._clear_waiter), timeout=timeout)
            turn.clear_ms = (cleared - started) * 1000
        except TimeoutError:
            pass
        while self._outgoing:
            await asyncio.sleep(TICK)
        self.turns.append(turn)
        return turn

    async def press(self, digits: str, *, gap_secs: float = 0.15) -> None:
        """Press keypad keys, sent as Twilio ``dtmf`` events one by one."""
        for digit in digits:
            await self._send(
                {
                    "event": "dtmf",
                    "sequenceNumber": str(self._next_sequence()),
                    "streamSid": self.stream_sid,
                    "dtmf": {"track": "inbound_track", "digit": digit},
                }
            )
            await asyncio.sleep(gap_secs)

    async def hang_up(self, *, abrupt: bool = False) -> None:
        """End the call: Twilio's ``stop`` then close, or (abrupt) just drop the socket."""
        if self._ws is not None and not self._ws.closed:
            if not abrupt:
                await self._send(
                    {
                        "event": "stop",
                        "sequenceNumber": str(self._next_sequence()),
                        "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    }
                )
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._http is not None:
            await self._http.close()
            self._http = None

    def audio(self) -> tuple[bytes, bytes]:
        """(what the caller sent, what the caller heard), as 8 kHz mu-law timelines."""
        return bytes(self._sent), bytes(self._playback.heard)
