"""What the SIP end-to-end tests share: espeak lines, test phones, the SIP address, API look-ups."""

from __future__ import annotations

import asyncio
import audioop
import time
import wave
from pathlib import Path

import aiohttp
import numpy as np

from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sip_phone import SipPhone

RATE = 8000
FRAME = 320  # bytes in 20 ms of 8 kHz 16-bit PCM
LONG_REPLY = (  # a bot turn long enough to talk over
    "We are open from nine in the morning until six in the evening on weekdays, "
    "and on Saturdays from ten until two. We are closed on Sundays and on public holidays, "
    "but you can always leave a message and we will call you back."
)


def speech_wav(folder: Path, name: str, text: str, *, after: bytes = b"") -> Path:
    """An espeak-ng line as an 8 kHz PCM WAV the test phone plays (then ``after``, 8 kHz PCM)."""
    pcm = audioop.ulaw2lin(speech_ulaw(text), 2) + after
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


def tone_pcm(freq: float, secs: float, amplitude: float = 8000) -> bytes:
    """A sine tone as 8 kHz 16-bit PCM."""
    t = np.arange(int(secs * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()


async def sip_uri(server: ServerProcess, user: str) -> str:
    """The server's SIP address for ``user`` (it picked a free port: /healthz says which)."""
    _, health = await server.get_json("/healthz")
    return f"sip:{user}@{health['sip']['address']}"


class PhoneCall:
    """One call of a test phone, followed through the phone's events."""

    def __init__(self, phone: SipPhone, index: int, seen: int):
        self.phone = phone
        self.index = index
        self.seen = seen

    @classmethod
    async def dial(cls, phone: SipPhone, uri: str) -> PhoneCall:
        """Have ``phone`` call ``uri`` and wait until the call is up."""
        seen = len(phone.events)
        await phone.send("call", uri=uri)
        index = (await phone.wait_for("state", after=seen))["call"]
        await phone.wait_for("state", after=seen, call=index, state="CONFIRMED", timeout=20)
        return cls(phone, index, seen)

    @property
    def sip_call_id(self) -> str:
        """The call's SIP Call-ID (the server stores it as ``providerCallId``)."""
        return next(
            e["id"]
            for e in self.phone.events[self.seen :]
            if e["event"] == "state" and e["call"] == self.index and e.get("id")
        )

    def _sounds(self) -> list[dict]:
        return [
            e
            for e in self.phone.events[self.seen :]
            if e["event"] == "sound" and e["call"] == self.index
        ]

    async def heard_bot_finish(self, quiet_secs: float = 1.2, timeout: float = 30) -> None:
        """Wait until the phone heard sound that then stopped for ``quiet_secs`` (a bot turn)."""
        count = len(self._sounds())

        async def finished() -> None:
            while True:
                sounds = self._sounds()
                if len(sounds) > count and not sounds[-1]["on"]:
                    ended = len(self.phone.events)
                    await asyncio.sleep(quiet_secs)
                    if len(self.phone.events) == ended or not any(
                        e["event"] == "sound" and e["call"] == self.index and e["on"]
                        for e in self.phone.events[ended:]
                    ):
                        return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(finished(), timeout)

    async def heard_bot_start(self, timeout: float = 30) -> dict:
        """Wait until the phone hears sound begin; returns the event (its ``frame``)."""
        count = sum(1 for e in self._sounds() if e["on"])
        return await self.phone.wait_for(
            lambda e: (
                e["event"] == "sound"
                and e["call"] == self.index
                and e["on"]
                and sum(1 for x in self._sounds() if x["on"]) > count
            ),
            after=self.seen,
            timeout=timeout,
        )

    async def say(self, wav: Path) -> int:
        """Play a WAV into the call; returns the heard-audio frame it started at."""
        seen = len(self.phone.events)
        await self.phone.send("play", call=self.index, path=str(wav))
        return (await self.phone.wait_for("playing", after=seen, call=self.index))["frame"]

    async def turn(self, wav: Path, timeout: float = 60) -> float | None:
        """Say a line and wait for the bot's answer; returns voice-to-voice in ms (None: none).

        Measured on the phone's media clock: from the line's last frame to the first
        frame of sound heard after it (what a caller on this phone would feel).
        """
        with wave.open(str(wav)) as line:
            frames = line.getnframes() // (RATE // 50)
        ended = await self.say(wav) + frames
        try:
            start = await self.phone.wait_for(
                lambda e: (
                    e["event"] == "sound"
                    and e["call"] == self.index
                    and e["on"]
                    and e["frame"] > ended
                ),
                after=self.seen,
                timeout=timeout,
            )
            await self.heard_bot_finish(timeout=timeout)
        except TimeoutError:
            return None
        return (start["frame"] - ended) * 20.0

    def first_sound_frame(self) -> int | None:
        """The frame the call first heard sound at (the greeting), if it did."""
        return next((e["frame"] for e in self._sounds() if e["on"]), None)

    async def hang_up(self) -> None:
        """BYE from the phone, and wait until the call is gone."""
        seen = len(self.phone.events)
        await self.phone.send("hangup", call=self.index)
        await self.phone.wait_for("state", after=seen, call=self.index, state="DISCONNECTED")

    async def heard(self, folder: Path) -> bytes:
        """Everything the phone heard on this call so far (8 kHz PCM)."""
        path = folder / f"heard-{self.index}.wav"
        await self.phone.send("ear_save", call=self.index, path=str(path))
        with wave.open(str(path)) as wav:
            return wav.readframes(wav.getnframes())


async def latest_call(server: ServerProcess, **query: str) -> dict:
    """The newest call (matching ``query``), once the server finalized it."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    _, page = await server.get_json(f"/api/calls?limit=1&{params}")
    return await server.call(page["data"][0]["id"])


async def said_by_bot(server: ServerProcess, text: str, timeout: float = 40) -> None:
    """Wait until the live call's transcript has the bot's line ``text`` (heard whole)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, page = await server.get_json("/api/calls?limit=1")
        body = await server.call(page["data"][0]["id"], ended=False)
        if any(line["role"] == "assistant" and line["text"] == text for line in body["transcript"]):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the bot never said {text!r}")


async def campaign_call(server: ServerProcess, name: str, phone: str, assistant: str) -> dict:
    """Start a one-contact campaign over SIP; returns the contact once its attempt settled."""
    spec = {
        "name": name,
        "assistant": assistant,
        "provider": "sip",
        "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        "limits": {"maxAttempts": 2, "retryMinutes": {"voicemail": 600}},
    }
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.api_key}"}) as http:
        async with http.post(server.url + "/api/campaigns", json=spec) as response:
            campaign = (await response.json())["id"]
        await http.post(
            f"{server.url}/api/campaigns/{campaign}/contacts",
            data=f"phone\n{phone}\n",
            headers={"Content-Type": "text/csv"},
        )
        await http.post(f"{server.url}/api/campaigns/{campaign}/start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with http.get(f"{server.url}/api/campaigns/{campaign}/contacts") as response:
                contact = (await response.json())["data"][0]
            if contact["lastOutcome"]:
                return contact
            await asyncio.sleep(0.3)
    raise TimeoutError(f"campaign {name}: the call never settled: {contact}")


async def llm_got(llm: FakeOpenAI, text: str, after: int, timeout: float = 20) -> None:
    """Wait until a request to the LLM (from index ``after``) carries ``text`` from the caller."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        users = [m for r in llm.requests[after:] for m in r["messages"] if m.get("role") == "user"]
        if any(text in str(m.get("content")) for m in users):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the LLM never got {text!r}")
