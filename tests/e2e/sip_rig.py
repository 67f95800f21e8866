"""What the SIP end-to-end tests share: test phones that speak espeak lines, the SIP address."""

from __future__ import annotations

import asyncio
import audioop
import wave
from pathlib import Path

import numpy as np

from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess
from tests.fakes.sip_phone import SipPhone

RATE = 8000
FRAME = 320  # bytes in 20 ms of 8 kHz 16-bit PCM


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


def silent_from(
    heard: bytes, frame: int, *, quiet_frames: int = 25, rms: float = 200
) -> int | None:
    """The first frame at or after ``frame`` that starts ``quiet_frames`` frames of silence."""
    levels = [
        float(np.sqrt((np.frombuffer(heard[i : i + FRAME], "<i2").astype(float) ** 2).mean()))
        for i in range(0, len(heard) - FRAME + 1, FRAME)
    ]
    for start in range(frame, len(levels) - quiet_frames + 1):
        if all(level <= rms for level in levels[start : start + quiet_frames]):
            return start
    return None
