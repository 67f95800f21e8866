"""Benchmark: caller speech over the bot: false stops on backchannels, missed stops, clear latency.

    python bench/backchannels.py [--interrupt-secs 0.6] [--baseline] [--show]

Each line (a backchannel such as "uh-huh" or "sí", or an interruption such as "wait,
no" or "espera") is spoken by Piper (the default English voice) and espeak-ng (en-us,
es), taken to 8 kHz mu-law (a phone line) and back up to 16 kHz, and played in real
time into the call's own turn-taking pieces while the bot is speaking: Silero VAD,
the call's Whisper STT and the user aggregator with the strategies of
``voice.turns.user_turn_strategies`` (``--baseline``: pipecat's VAD start strategy,
what calls used before ``voice.overlap``). A line "stops the bot" when the aggregator
broadcasts an interruption. The bot goes silent for the caller at the first of a pause
(``BotPauseFrame``: the transport sends Twilio's ``clear`` as it handles it) or an
interruption.

Prints, per kind of line, how many stopped the bot: a backchannel that did is a false
stop, an interruption that did not (within 3 s of its end) a missed stop; the clear
latency of the interruptions (first sound -> the bot silent, and first or last sound ->
the interruption); and for the backchannels, how long the bot was paused (it replays
``REPLAY_SECS`` on resume, so the caller hears a gap of the pause's length).
"""

from __future__ import annotations

import argparse
import asyncio
import audioop
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipecat.frames.frames import (  # noqa: E402
    BotStartedSpeakingFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.turns.user_start import VADUserTurnStartStrategy  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from telephony.simulator.caller_audio import speech_ulaw, wav_ulaw  # noqa: E402
from voice.engines import SpeechConfig, SpeechModels, load_speech_models  # noqa: E402
from voice.frames import BotPauseFrame, BotResumeFrame  # noqa: E402
from voice.overlap import Overlap, OverlapUserTurnStartStrategy  # noqa: E402
from voice.stt import LocalWhisperSTTService  # noqa: E402
from voice.turns import TurnTaking, user_turn_strategies, vad_analyzer  # noqa: E402

RATE = 16000
FRAME = RATE // 50  # 20 ms
# An interruption is missed when nothing stopped the bot this long after its last sound.
MISSED_AFTER_SECS = 3.0

LINES = {
    ("backchannel", "en"): [
        "Uh-huh.",
        "Mm-hmm.",
        "Okay.",
        "Right.",
        "Yeah.",
        "Sure.",
        "I see.",
        "Got it.",
        "Yeah, okay.",
        "Mhm.",
    ],
    ("interruption", "en"): [
        "Wait, no.",
        "Stop.",
        "Hold on.",
        "Wait, stop.",
        "Sorry, what was that?",
        "No, no, that's wrong.",
        "Actually, I need Saturday.",
        "Excuse me.",
        "No.",
        "Hang on a second.",
    ],
    ("backchannel", "es"): ["Sí.", "Ajá.", "Claro.", "Vale.", "Sí, claro.", "Ya.", "Bueno."],
    ("interruption", "es"): [
        "Espera.",
        "Espere, no.",
        "Para, para.",
        "Perdón, ¿qué?",
        "No, eso no es correcto.",
        "Un momento.",
        "No.",
    ],
}


@dataclass
class Outcome:
    kind: str
    language: str
    voice: str
    text: str
    speech_secs: float
    stopped_after: float | None  # seconds from the first sound to the interruption
    heard: str
    silenced_after: float | None = None  # seconds from the first sound to a pause or stop
    paused_secs: float | None = None  # a pause that was resumed: how long


class _Sink(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.interrupted_at: float | None = None
        self.paused_at: float | None = None
        self.resumed_at: float | None = None
        self.first_sound = 0.0
        self.heard: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        now = time.monotonic()
        if isinstance(frame, InterruptionFrame) and self.interrupted_at is None:
            self.interrupted_at = now
        elif isinstance(frame, BotPauseFrame) and self.paused_at is None:
            self.paused_at = now
        elif isinstance(frame, BotResumeFrame) and self.resumed_at is None:
            self.resumed_at = now
        await self.push_frame(frame, direction)

    def silenced(self) -> float | None:
        """When the caller stopped hearing the bot: a pause or an interruption."""
        times = [t for t in (self.paused_at, self.interrupted_at) if t is not None]
        return min(times) if times else None


class _Heard(FrameProcessor):
    """Notes the transcriptions on their way to the aggregator."""

    def __init__(self, sink: _Sink) -> None:
        super().__init__()
        self._sink = sink

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self._sink.heard.append(frame.text)
        await self.push_frame(frame, direction)


def piper_ulaw(models: SpeechModels, text: str) -> bytes:
    voice = models.voice()
    pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text))
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        with wave.open(f.name, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(voice.config.sample_rate)
            out.writeframes(pcm)
        return wav_ulaw(Path(f.name))


def phone_pcm(ulaw: bytes) -> bytes:
    samples = np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype=np.int16).astype(np.float32) / 32768
    return (soxr.resample(samples, 8000, RATE) * 32767).astype(np.int16).tobytes()


def strategies(models: SpeechModels, args: argparse.Namespace):
    chosen = user_turn_strategies(models.smart_turn, TurnTaking(backchannels_pass=True))
    if args.baseline:
        chosen.start = [VADUserTurnStartStrategy()]
    elif args.interrupt_secs is not None:
        chosen.start = [
            OverlapUserTurnStartStrategy(overlap=Overlap(interrupt_secs=args.interrupt_secs))
        ]
    return chosen


async def play(models: SpeechModels, language: str, pcm: bytes, args) -> _Sink:
    """Play ``pcm`` over a speaking bot, from ``first_sound`` on; what the bot was told."""
    engine = models.whisper_for("", language)
    sink = _Sink()
    aggregator = LLMUserAggregator(
        LLMContext(), params=LLMUserAggregatorParams(user_turn_strategies=strategies(models, args))
    )
    pipeline = Pipeline(
        [
            VADProcessor(vad_analyzer=vad_analyzer(models.vad, TurnTaking())),
            LocalWhisperSTTService(engine=engine, language=language, ttfs_p99_latency=2.0),
            _Heard(sink),
            aggregator,
            sink,
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=RATE),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    started = asyncio.Event()
    worker.add_event_handler("on_pipeline_started", lambda *_: started.set())
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 10)
    await worker.queue_frame(BotStartedSpeakingFrame(), FrameDirection.UPSTREAM)
    silence = bytes(FRAME * 2)
    lead = [silence] * 25
    speech = [pcm[i : i + FRAME * 2].ljust(FRAME * 2, b"\0") for i in range(0, len(pcm), FRAME * 2)]
    tail = [silence] * int(MISSED_AFTER_SECS * 50)
    clock, first_sound = time.monotonic(), 0.0
    for n, chunk in enumerate(lead + speech + tail):
        if n == len(lead):
            first_sound = time.monotonic()
        await worker.queue_frame(InputAudioRawFrame(chunk, RATE, 1))
        await asyncio.sleep(max(0.0, clock + (n + 1) * 0.02 - time.monotonic()))
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(task, 30)
    sink.first_sound = first_sound
    return sink


def outcome_of(kind, language, voice, text, pcm: bytes, sink: _Sink) -> Outcome:
    def since(at: float | None) -> float | None:
        return None if at is None else at - sink.first_sound

    resumed = sink.paused_at is not None and sink.resumed_at is not None
    return Outcome(
        kind,
        language,
        voice,
        text,
        len(pcm) / 2 / RATE,
        since(sink.interrupted_at),
        " | ".join(sink.heard),
        since(sink.silenced()),
        sink.resumed_at - sink.paused_at if resumed else None,
    )


def show(o: Outcome) -> None:
    verdict = "kept talking" if o.stopped_after is None else f"stopped at {o.stopped_after:.2f}s"
    paused = "" if o.paused_secs is None else f" paused {o.paused_secs:.2f}s"
    print(
        f"  {o.kind:12} {o.voice:12} {o.text!r:28} {o.speech_secs:.2f}s "
        f"{verdict:18}{paused} heard {o.heard!r}",
        flush=True,
    )


def voices(language: str) -> list[str]:
    return ["piper", "espeak en-us"] if language == "en" else ["espeak es"]


def caller_pcm(models: SpeechModels, voice: str, text: str) -> bytes:
    if voice == "piper":
        return phone_pcm(piper_ulaw(models, text))
    return phone_pcm(speech_ulaw(text, voice=voice.split()[1]))


async def run(args: argparse.Namespace) -> list[Outcome]:
    models = load_speech_models(SpeechConfig(models_dir=Path("models")))
    outcomes = []
    for (kind, language), lines in LINES.items():
        for voice in voices(language):
            for text in lines:
                pcm = caller_pcm(models, voice, text)
                outcome = outcome_of(
                    kind, language, voice, text, pcm, await play(models, language, pcm, args)
                )
                outcomes.append(outcome)
                if args.show:
                    show(outcome)
    return outcomes


def report(outcomes: list[Outcome], label: str) -> None:
    print(f"\n{label}")
    print(f"{'lines':<24}{'n':>4}{'stopped the bot':>17}{'rate':>8}")
    for kind in ("backchannel", "interruption"):
        for language in ("en", "es", "all"):
            rows = [o for o in outcomes if o.kind == kind and language in ("all", o.language)]
            stops = sum(o.stopped_after is not None for o in rows)
            name = f"{kind} ({language})"
            print(f"{name:<24}{len(rows):>4}{stops:>17}{stops / max(1, len(rows)):>8.0%}")
    backchannels = [o for o in outcomes if o.kind == "backchannel"]
    interruptions = [o for o in outcomes if o.kind == "interruption"]
    false_stops = sum(o.stopped_after is not None for o in backchannels) / len(backchannels)
    missed = sum(o.stopped_after is None for o in interruptions) / len(interruptions)
    print(f"false stops (backchannels that stopped the bot): {false_stops:.0%}")
    print(f"missed stops (interruptions that did not):       {missed:.0%}")
    silenced = [o.silenced_after * 1000 for o in interruptions if o.silenced_after is not None]
    if silenced:
        print(
            f"bot silent for the caller after first sound ms: p50 "
            f"{statistics.median(silenced):.0f} max {max(silenced):.0f}; within 300 ms: "
            f"{sum(ms <= 300 for ms in silenced)}/{len(interruptions)}"
        )
    pauses = [o.paused_secs * 1000 for o in backchannels if o.paused_secs is not None]
    if pauses:
        print(
            f"backchannel pause (bot silent, then plays on) ms: p50 "
            f"{statistics.median(pauses):.0f} p90 {sorted(pauses)[int(0.9 * len(pauses))]:.0f} "
            f"max {max(pauses):.0f} ({len(pauses)}/{len(backchannels)} resumed)"
        )
    stopped = [o for o in interruptions if o.stopped_after is not None]
    if stopped:
        onset = [o.stopped_after * 1000 for o in stopped]
        end = [(o.stopped_after - o.speech_secs) * 1000 for o in stopped]
        print(
            f"interruption latency from first sound ms: p50 {statistics.median(onset):.0f} "
            f"max {max(onset):.0f}"
        )
        print(
            f"interruption latency from last sound ms:  p50 {statistics.median(end):.0f} "
            f"max {max(end):.0f}"
        )
        within = sum(
            o.stopped_after <= 0.3 or o.stopped_after - o.speech_secs <= 0.3 for o in stopped
        )
        print(f"interrupted within 300 ms of the first or last sound: {within}/{len(stopped)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--interrupt-secs",
        type=float,
        default=None,
        help="Overlap.interrupt_secs (default: the call's setting)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="pipecat's VAD start strategy (before voice.overlap)",
    )
    parser.add_argument("--show", action="store_true", help="print every line's outcome")
    args = parser.parse_args()
    outcomes = asyncio.run(run(args))
    label = (
        "baseline: VAD start"
        if args.baseline
        else (f"overlap strategy, interrupt_secs={args.interrupt_secs or Overlap().interrupt_secs}")
    )
    report(outcomes, label)


if __name__ == "__main__":
    main()
