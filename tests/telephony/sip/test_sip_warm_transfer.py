"""A warm transfer over SIP: consult the agent, whisper to them alone, bridge them to the caller."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from faster_whisper import WhisperModel
from piper import PiperVoice

from agent.tool_config import TransferDestination
from agent.tools import TransferFailed
from telephony.desk.plan import AgentRing
from telephony.sip.events import EndReason
from telephony.sip.leg import SipLeg
from telephony.sip.warm import CALLER_LEFT, HOLD_LEAD_SECS, MUSIC_PIECE_SECS, Speak
from tests.fakes.sip_phone import SipPhone
from tests.telephony.sip.conftest import Switchboard, dominant_hz, tone
from voice.model_files import piper_voice, whisper_dir
from voice.tts import PiperSynthesizer, speak_whole

WHISPER = "Sales transfer. The caller wants to upgrade to the gigabit plan."
CHIME = {520, 530, 660}  # the hold chime's two notes, as tones_heard rounds them


def tones_heard(path, rate_window: float = 0.1) -> list[int]:
    """The strongest frequency of each 100 ms of a recording (0 for silence), rounded to 10 Hz."""
    with wave.open(str(path)) as wav:
        pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    step = int(rate * rate_window) * 2
    return [
        round(dominant_hz(pcm[i : i + step], rate), -1) for i in range(0, len(pcm) - step, step)
    ]


async def test_the_agent_hears_the_whisper_alone_then_caller_and_agent_hear_each_other(
    sip: Switchboard, caller_phone: SipPhone, agent_phone: SipPhone, workdir
):
    caller_heard, agent_heard = workdir / "caller.wav", workdir / "agent.wav"
    await caller_phone.send("record", path=str(caller_heard))
    await agent_phone.send("record", path=str(agent_heard))
    seen = len(caller_phone.events)
    await caller_phone.send("call", uri=sip.uri("1000"))
    index = (await caller_phone.wait_for("state", after=seen))["call"]
    leg = SipLeg(await sip.answer(), engine=lambda: sip.engine)

    person = await leg.consult(TransferDestination(type="sip", sipUri=agent_phone.uri))
    await leg.whisper(person, tone(1000, 0.6))  # the summary: the agent's ears only
    await leg.connect(person)
    await leg.hang_up()  # the AI leaves: the bridged call goes on
    await asyncio.sleep(1.0)
    await caller_phone.send("stop_record")
    await agent_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    person_end = await asyncio.wait_for(person.ended, 10)

    caller, agent = tones_heard(caller_heard), tones_heard(agent_heard)
    assert 1000 not in caller, "the caller never heard the whisper"
    assert caller.count(880) >= 5, "then the caller heard the agent's phone"
    assert agent.count(1000) >= 4 and agent.count(440) >= 5, "the whisper, then the caller"
    assert agent.index(1000) < len(agent) - 1 - agent[::-1].index(440)
    assert leg.call.ended.result().reason is EndReason.REMOTE_BYE
    assert person_end.reason is EndReason.LOCAL_HANGUP, "the caller's BYE ended the agent's leg"


class RecordedPlan:
    """A warm plan (``telephony.desk.plan.WarmPlan``) over given agents that notes each report.

    ``decline`` names agents who decline on the console once their phone rings.
    """

    def __init__(self, *agents: AgentRing, decline: tuple[str, ...] = ()):
        self.transfer_id, self.whisper = "transfer-1", WHISPER
        self.reports: list[tuple[str, ...]] = []
        self._agents, self._decline = list(agents), decline
        self._declines: dict[str, asyncio.Future[None]] = {}

    async def next_agent(self) -> AgentRing | None:
        return self._agents.pop(0) if self._agents else None

    def declined(self, agent: AgentRing) -> asyncio.Future[None]:
        return self._declines.setdefault(agent.agent_id, asyncio.get_running_loop().create_future())

    async def ringing(self, agent: AgentRing) -> None:
        self.reports.append(("ringing", agent.agent_id))
        if agent.agent_id in self._decline:
            asyncio.get_running_loop().call_later(0.5, self.declined(agent).set_result, None)

    async def answered(self, agent: AgentRing) -> None:
        self.reports.append(("answered", agent.agent_id))

    async def missed(self, agent: AgentRing, outcome: str) -> None:
        self.reports.append(("missed", agent.agent_id, outcome))

    async def bridged(self, agent: AgentRing) -> None:
        self.reports.append(("bridged", agent.agent_id))


def ring(phone: SipPhone, secs: float = 10.0) -> AgentRing:
    destination = TransferDestination(type="sip", sipUri=phone.uri)
    return AgentRing(phone.options["user"], phone.options["user"], destination, secs)


@pytest.fixture(scope="module")
def piper_speak() -> Speak:
    """Our TTS (the packaged Piper voice) saying a line at 8 kHz, as the server's SIP legs do."""
    voice = PiperVoice.load(str(piper_voice("", Path("models"))))
    synthesizer = PiperSynthesizer(voice, "joe")

    async def speak(text: str) -> bytes:
        return await speak_whole(synthesizer, text, 8000)

    return speak


@pytest.fixture(scope="module")
def stt() -> WhisperModel:
    return WhisperModel(str(whisper_dir("", Path("models"))), device="cpu", compute_type="int8")


def transcribe(stt: WhisperModel, pcm: bytes, rate: int) -> str:
    audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    segments, _ = stt.transcribe(soxr.resample(audio, rate, 16000), language="en", beam_size=1)
    return " ".join(segment.text for segment in segments).lower()


def steady(heard: list[int], hz: int, windows: int = 5) -> int:
    """Where ``hz`` starts to be heard for ``windows`` windows in a row (a tone, not a vowel)."""
    return next(i for i in range(len(heard)) if heard[i : i + windows] == [hz] * windows)


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


async def held_call(sip: Switchboard, caller_phone: SipPhone, speak: Speak | None) -> tuple:
    """The caller's call, answered by the engine, as a SIP leg; and the phone's index for it."""
    seen = len(caller_phone.events)
    await caller_phone.send("call", uri=sip.uri("1000"))
    index = (await caller_phone.wait_for("state", after=seen))["call"]
    return SipLeg(await sip.answer(), engine=lambda: sip.engine, speak=speak), index


async def test_a_queue_warm_transfer_holds_with_music_whispers_to_the_agent_then_bridges(
    sip: Switchboard,
    caller_phone: SipPhone,
    agent_phone: SipPhone,
    piper_speak: Speak,
    stt: WhisperModel,
    workdir,
):
    caller_heard, agent_heard = workdir / "caller.wav", workdir / "agent.wav"
    await caller_phone.send("record", path=str(caller_heard))
    await agent_phone.send("record", path=str(agent_heard))
    leg, index = await held_call(sip, caller_phone, piper_speak)
    plan = RecordedPlan(ring(agent_phone))

    await leg.warm_transfer(plan)
    await leg.hang_up()  # the session's end: the bridged call goes on
    await asyncio.sleep(1.5)
    await caller_phone.send("stop_record")
    await agent_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    person_end = await asyncio.wait_for(leg.bridged_to.ended, 10)

    assert plan.reports == [("ringing", "agent"), ("answered", "agent"), ("bridged", "agent")]
    caller, agent = tones_heard(caller_heard), tones_heard(agent_heard)
    assert CHIME & set(caller[: caller.index(880)]), "the caller held with music, not silence"
    assert caller.count(880) >= 5, "then the caller heard the agent"
    assert agent.count(440) >= 5, "and the agent heard the caller"
    pcm, rate = read_wav(agent_heard)
    first_caller = steady(agent, 440) * int(rate * 0.1) * 2
    whispered = transcribe(stt, pcm[:first_caller], rate)
    assert "upgrade" in whispered and "plan" in whispered, whispered
    caller_pcm, caller_rate = read_wav(caller_heard)
    assert "upgrade" not in transcribe(stt, caller_pcm, caller_rate), "the whisper is the agent's"
    assert person_end.reason is EndReason.LOCAL_HANGUP, "the caller's BYE ended the agent's leg"


async def test_no_answer_then_busy_gives_the_caller_back_without_music(
    sip: Switchboard, caller_phone: SipPhone, ringing_phone: SipPhone, busy_phone: SipPhone
):
    leg, index = await held_call(sip, caller_phone, None)
    plan = RecordedPlan(ring(ringing_phone, 1.5), ring(busy_phone))

    with pytest.raises(TransferFailed, match="no agent of the queue answered"):
        await leg.warm_transfer(plan)
    queued_after = leg.call.queued_audio_secs
    await asyncio.sleep(0.6)

    assert plan.reports == [
        ("ringing", "ringing"),
        ("missed", "ringing", "no-answer"),
        ("ringing", "busy"),
        ("missed", "busy", "busy"),
    ]
    assert not leg.call.is_ended, "the caller is still on the line, back with the assistant"
    most = HOLD_LEAD_SECS + MUSIC_PIECE_SECS
    assert queued_after <= most and leg.call.queued_audio_secs == 0, "the music stopped"
    assert leg.bridged_to is None
    await caller_phone.send("hangup", call=index)


async def test_an_agent_who_declines_stops_ringing_and_the_next_one_is_bridged(
    sip: Switchboard, caller_phone: SipPhone, ringing_phone: SipPhone, agent_phone: SipPhone
):
    leg, index = await held_call(sip, caller_phone, None)
    plan = RecordedPlan(ring(ringing_phone, 30), ring(agent_phone), decline=("ringing",))
    rung = len(ringing_phone.events)

    await leg.warm_transfer(plan)

    assert plan.reports == [
        ("ringing", "ringing"),
        ("missed", "ringing", "declined"),
        ("ringing", "agent"),
        ("answered", "agent"),
        ("bridged", "agent"),
    ]
    incoming = await ringing_phone.wait_for("incoming", after=rung)
    await ringing_phone.wait_for(
        "state", after=rung, call=incoming["call"], state="DISCONNECTED"
    )  # CANCEL: it stopped ringing
    await caller_phone.send("hangup", call=index)
    await asyncio.wait_for(leg.bridged_to.ended, 10)


async def test_a_caller_who_hangs_up_on_hold_stops_the_ringing(
    sip: Switchboard, caller_phone: SipPhone, ringing_phone: SipPhone
):
    leg, index = await held_call(sip, caller_phone, None)
    plan = RecordedPlan(ring(ringing_phone, 30))
    rung = len(ringing_phone.events)
    transfer = asyncio.create_task(leg.warm_transfer(plan))
    incoming = await ringing_phone.wait_for("incoming", after=rung)
    await caller_phone.send("hangup", call=index)

    with pytest.raises(TransferFailed, match=CALLER_LEFT):
        await asyncio.wait_for(transfer, 15)
    await ringing_phone.wait_for("state", after=rung, call=incoming["call"], state="DISCONNECTED")
    assert plan.reports == [("ringing", "ringing")]


async def test_an_agent_who_hangs_up_during_the_whisper_is_missed_and_the_caller_kept(
    sip: Switchboard, caller_phone: SipPhone, agent_phone: SipPhone, piper_speak: Speak
):
    leg, index = await held_call(sip, caller_phone, piper_speak)
    plan = RecordedPlan(ring(agent_phone))
    rung = len(agent_phone.events)
    transfer = asyncio.create_task(leg.warm_transfer(plan))
    incoming = await agent_phone.wait_for("incoming", after=rung)
    await agent_phone.wait_for("state", after=rung, call=incoming["call"], state="CONFIRMED")
    await asyncio.sleep(0.5)  # the whisper is playing
    await agent_phone.send("hangup", call=incoming["call"])

    with pytest.raises(TransferFailed, match="no agent of the queue answered"):
        await asyncio.wait_for(transfer, 15)
    assert plan.reports == [
        ("ringing", "agent"),
        ("answered", "agent"),
        ("missed", "agent", "completed"),
    ]
    assert not leg.call.is_ended and leg.bridged_to is None, "the caller stays with us"
    await caller_phone.send("hangup", call=index)
