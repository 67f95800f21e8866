"""Fixtures for the SIP engine's tests: one engine for the session, test phones, SIPp, tones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from telephony.sip.call import SipCall
from telephony.sip.engine import SipEngine
from telephony.sip.invite import IncomingInvite
from telephony.sip.settings import InboundPolicy, SipSettings
from tests.fakes.sip_phone import SipPhone
from tests.fakes.sipp import write_mulaw_wav

RATE = 8000


class Switchboard:
    """The session engine's INVITE handler: queues each INVITE for the running test to decide."""

    def __init__(self, engine: SipEngine):
        self.engine = engine
        self.invites: asyncio.Queue[IncomingInvite] = asyncio.Queue()

    async def on_invite(self, invite: IncomingInvite) -> None:
        await self.invites.put(invite)

    async def next_invite(self, timeout: float = 15) -> IncomingInvite:
        """The next INVITE that reached the application."""
        return await asyncio.wait_for(self.invites.get(), timeout)

    async def answer(self, timeout: float = 15) -> SipCall:
        """Accept the next INVITE."""
        return await (await self.next_invite(timeout)).accept()

    @property
    def address(self) -> tuple[str, int]:
        return self.engine.address()

    def uri(self, user: str, transport: str = "udp") -> str:
        host, port = self.engine.address(transport)
        return f"sip:{user}@{host}:{port}" + (";transport=tcp" if transport == "tcp" else "")

    async def reset(self) -> None:
        """Between tests: refuse INVITEs left waiting, hang up live calls, open the policy."""
        while not self.invites.empty():
            invite = self.invites.get_nowait()
            if not invite.decided:
                await invite.reject(480)
        for call in self.engine.calls:
            await asyncio.wait_for(call.hangup(), 5)
        self.engine.policy = InboundPolicy()


@pytest.fixture(scope="session")
async def sip_engine() -> AsyncIterator[Switchboard]:
    """One SIP engine (PJSIP is one per process) on a free port, UDP and TCP."""
    engine = SipEngine(SipSettings(host="127.0.0.1", port=0, invite_decision_secs=15))
    board = Switchboard(engine)
    engine.on_invite = board.on_invite
    await engine.start()
    yield board
    await engine.stop()


@pytest.fixture
async def sip(sip_engine: Switchboard) -> AsyncIterator[Switchboard]:
    """The session engine, left as found after the test."""
    yield sip_engine
    await sip_engine.reset()


@pytest.fixture(scope="session")
async def caller_phone() -> AsyncIterator[SipPhone]:
    """A PJSIP phone that plays a 440 Hz tone on its calls (and follows REFERs)."""
    phone = await SipPhone(tone=440, user="caller").start()
    yield phone
    await phone.stop()


@pytest.fixture(scope="session")
async def agent_phone() -> AsyncIterator[SipPhone]:
    """A PJSIP phone that answers every call (a human agent's desk phone)."""
    phone = await SipPhone(answer=200, tone=880, user="agent").start()
    yield phone
    await phone.stop()


@pytest.fixture(scope="session")
async def busy_phone() -> AsyncIterator[SipPhone]:
    """A PJSIP phone that answers every call with 486 Busy Here."""
    phone = await SipPhone(answer=486, user="busy").start()
    yield phone
    await phone.stop()


@pytest.fixture(scope="session")
async def ringing_phone() -> AsyncIterator[SipPhone]:
    """A PJSIP phone that rings (180) and never answers."""
    phone = await SipPhone(answer=180, user="ringing").start()
    yield phone
    await phone.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where SIPp scenarios, logs and WAVs of one test go."""
    return tmp_path


def tone(freq: float, secs: float, amplitude: float = 8000) -> bytes:
    """A sine tone as 8 kHz 16-bit PCM."""
    t = np.arange(int(secs * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()


def dominant_hz(pcm: bytes, rate: int = RATE) -> float:
    """The strongest frequency in 16-bit PCM (0 for silence)."""
    x = np.frombuffer(pcm, "<i2").astype(float)
    if not len(x) or not np.any(x):
        return 0.0
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit PCM."""
    x = np.frombuffer(pcm, "<i2").astype(float)
    return float(np.sqrt((x**2).mean())) if len(x) else 0.0


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 700 Hz tone, 4 s, as a mu-law WAV for SIPp's rtp_stream."""
    t = np.arange(4 * RATE) / RATE
    return write_mulaw_wav(
        tmp_path_factory.mktemp("sip") / "tone700.wav", np.sin(2 * np.pi * 700 * t) * 8000
    )


async def collect_audio(call: SipCall, secs: float) -> bytes:
    """What the call receives over ``secs`` (less if it ends)."""
    audio = bytearray()

    async def read() -> None:
        async for frame in call.audio():
            audio.extend(frame)

    try:
        await asyncio.wait_for(read(), secs)
    except TimeoutError:
        pass
    return bytes(audio)
