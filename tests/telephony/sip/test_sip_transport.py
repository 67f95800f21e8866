"""The SIP pipecat transport in a real pipeline with a PJSIP phone: audio, keys, marks, barge-in."""

from __future__ import annotations

import asyncio
import wave

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from telephony.sip.events import EndReason
from telephony.sip.transport import SipCallTransport
from tests.fakes.sip_phone import SipPhone
from tests.telephony.sip.conftest import RATE, Switchboard, dominant_hz, tone
from voice.frames import (
    REPLAY_SECS,
    BotPauseFrame,
    BotResumeFrame,
    OutputPlaybackMarkFrame,
    PlaybackMarkFrame,
)


class KeypadBot(FrameProcessor):
    """Echoes the caller until a key: 1 plays a long tone, 2 barges in, 3 plays a short one,
    4 pauses the bot (as caller speech over it does), 5 resumes it."""

    def __init__(self) -> None:
        super().__init__()
        self.echo = True
        self.input_rates: set[int] = set()
        self.keys: list[str] = []
        self.marks: list[str] = []
        self.queued_after_interruption: float | None = None
        self.transport: SipCallTransport | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.input_rates.add(frame.sample_rate)
            if self.echo:
                await self.push_frame(
                    OutputAudioRawFrame(frame.audio, frame.sample_rate, frame.num_channels)
                )
        elif isinstance(frame, InputDTMFFrame):
            await self._key(str(frame.button.value))
        elif isinstance(frame, PlaybackMarkFrame):
            self.marks.append(frame.mark)
        else:
            await self.push_frame(frame, direction)

    async def _key(self, key: str) -> None:
        self.keys.append(key)
        self.echo = False
        if key in "13":
            await self.push_frame(
                OutputAudioRawFrame(tone(1000, 4 if key == "1" else 0.2), RATE, 1)
            )
            await self.push_frame(OutputPlaybackMarkFrame(mark=f"after-{key}"))
        elif key == "2":
            await self.push_frame(InterruptionFrame())
            await asyncio.sleep(0.05)
            assert self.transport is not None
            self.queued_after_interruption = self.transport.call.queued_audio_secs
        elif key == "4":
            await self.push_frame(BotPauseFrame())
        elif key == "5":
            await self.push_frame(BotResumeFrame())


def _seconds_of(freq: float, pcm: bytes, rate: int) -> float:
    """How long ``freq`` is the strongest sound, in 100 ms windows."""
    window = rate // 10 * 2
    windows = [pcm[i : i + window] for i in range(0, len(pcm) - window + 1, window)]
    return sum(0.1 for w in windows if abs(dominant_hz(w, rate) - freq) < 20 and np.any(w))


async def test_a_pipeline_over_a_sip_call_hears_keys_gets_marks_and_barges_in_at_once(
    sip: Switchboard, caller_phone: SipPhone, workdir
):
    recording = workdir / "caller_heard.wav"
    await caller_phone.send("record", path=str(recording))
    seen = len(caller_phone.events)
    await caller_phone.send("call", uri=sip.uri("2000"))
    index = (await caller_phone.wait_for("state", after=seen))["call"]
    call = await sip.answer()

    bot = KeypadBot()
    transport = bot.transport = SipCallTransport(call)
    disconnected = asyncio.Event()
    transport.add_event_handler("on_client_disconnected", lambda _t: disconnected.set())
    worker = PipelineWorker(
        Pipeline([transport.input(), bot, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=RATE),
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())

    await asyncio.sleep(1.0)  # the caller's tone comes back to it
    await caller_phone.send("dtmf", call=index, digits="1")
    await asyncio.sleep(1.0)  # a second of the long tone
    await caller_phone.send("dtmf", call=index, digits="2")
    await asyncio.sleep(0.5)
    await caller_phone.send("dtmf", call=index, digits="3")
    await asyncio.sleep(1.0)
    await caller_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    await asyncio.wait_for(running, 15)

    assert bot.input_rates == {16000}, "Whisper's rate, as the Twilio transport feeds it"
    assert bot.keys == ["1", "2", "3"]
    assert bot.queued_after_interruption == 0.0
    assert bot.marks == ["after-3"], "the interrupted tone's mark never comes back"
    assert disconnected.is_set() and call.ended.result().reason is EndReason.REMOTE_BYE
    with wave.open(str(recording)) as wav:
        heard, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    assert _seconds_of(440, heard, rate) >= 0.5, "the pipeline echoed the caller"
    assert 0.8 <= _seconds_of(1000, heard, rate) <= 1.8, "1 s of the long tone, then the short one"


async def test_a_paused_bot_goes_silent_and_plays_the_whole_tone_on_resume(
    sip: Switchboard, caller_phone: SipPhone, workdir
):
    recording = workdir / "caller_heard.wav"
    await caller_phone.send("record", path=str(recording))
    seen = len(caller_phone.events)
    await caller_phone.send("call", uri=sip.uri("2000"))
    index = (await caller_phone.wait_for("state", after=seen))["call"]
    call = await sip.answer()

    bot = KeypadBot()
    transport = bot.transport = SipCallTransport(call)
    worker = PipelineWorker(
        Pipeline([transport.input(), bot, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=RATE),
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())

    await asyncio.sleep(0.5)
    await caller_phone.send("dtmf", call=index, digits="1")
    await asyncio.sleep(1.5)  # into the long tone
    await caller_phone.send("dtmf", call=index, digits="4")
    await asyncio.sleep(1.0)  # the caller says "uh-huh"
    await caller_phone.send("dtmf", call=index, digits="5")
    await asyncio.sleep(4.5)  # the rest of the tone
    await caller_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    await asyncio.wait_for(running, 15)

    assert bot.keys == ["1", "4", "5"]
    assert bot.marks == ["after-1"], "the mark held over the pause came back after the tone"
    with wave.open(str(recording)) as wav:
        heard, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    tone_secs = _seconds_of(1000, heard, rate)
    # 100 ms windows: each of the four edges of the tone may count a window more.
    assert 3.9 <= tone_secs <= 4.0 + REPLAY_SECS + 0.4, f"the whole tone, once: {tone_secs:.1f}s"
    gaps = _silent_runs(heard, rate)
    assert any(0.6 <= gap <= 1.4 for gap in gaps), f"silent while paused: {gaps}"


def _silent_runs(pcm: bytes, rate: int) -> list[float]:
    """Lengths of the silences between sounds, in 100 ms windows."""
    window = rate // 10 * 2
    loud = [
        bool(np.abs(np.frombuffer(pcm[i : i + window], "<i2")).max(initial=0) > 500)
        for i in range(0, len(pcm) - window + 1, window)
    ]
    runs, run, started = [], 0, False
    for sound in loud:
        if sound:
            if started and run:
                runs.append(run * 0.1)
            started, run = True, 0
        else:
            run += 1
    return runs
