"""The per-call pipeline: transport in → VAD → STT → keypad → LLM → TTS → marks → transport out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.observers.base_observer import BaseObserver
from pipecat.observers.user_bot_latency_observer import LatencyBreakdown, UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.filters.function_filter import FunctionFilter
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport

from voice.engines import SpeechModels, Voice, WhisperEngine
from voice.espeak import EspeakSynthesizer, EspeakVoice
from voice.keypad import KeypadInput, KeypadSettings
from voice.languages import LanguageDetector, LanguageSwitch, OnLanguage
from voice.latency import turn_latency
from voice.playback import BotTurn, PlaybackTracker
from voice.speaker import CallSpeaker, HoldCallerStrategy
from voice.stt import LocalWhisperSTTService
from voice.transcript import CallerTranscriptObserver, UserSaid
from voice.tts import LocalTTSService, PiperSynthesizer, Synthesizer
from voice.turns import TurnTaking, user_turn_params, vad_analyzer
from voice.worker import CallWorker

# Whisper needs 16 kHz in; phone audio goes out at 8 kHz.
AUDIO_IN_RATE = 16000
AUDIO_OUT_RATE = 8000
# Safety net only: local Whisper marks every transcript final, which ends the wait at once.
STT_P99_SECS = 2.0


@dataclass
class CallSpeech:
    """Per-call speech choices (from the assistant).

    Parameters:
        language: ISO 639-1 code the caller speaks (a bilingual call's: the one it starts in).
        listens_for: A bilingual call's languages (ISO codes), one of which the caller's
            first words tell; empty: ``language`` only.
        voice: A Piper voice file, espeak-ng's voice for the language, or None for the
            default voice.
        speed: Speaking rate (1.0 = the voice's own).
        whisper: The Whisper engine for this language, or None for the default one.
        turns: Turn-taking settings.
        keypad: How keypad digits are grouped, or None to ignore the keypad.
        idle_secs: Caller silence (after the bot finished) that fires
            ``CallHooks.on_user_idle``; 0 never fires.
    """

    language: str = "en"
    listens_for: tuple[str, ...] = ()
    voice: Voice | None = None
    speed: float = 1.0
    whisper: WhisperEngine | None = None
    turns: TurnTaking = field(default_factory=TurnTaking)
    keypad: KeypadSettings | None = field(default_factory=KeypadSettings)
    idle_secs: float = 0.0


async def _nothing(*_args: Any) -> None:
    return None


def synthesizer(models: SpeechModels, voice: Voice | None, speed: float = 1.0) -> Synthesizer:
    """The voice a call speaks with (the default one for None), on the shared models."""
    voice = voice or models.default_voice
    if isinstance(voice, EspeakVoice):
        return EspeakSynthesizer(voice, speed)
    return PiperSynthesizer(models.voice(voice), voice.stem, speed, models.synthesis)


@dataclass
class CallHooks:
    """Where the pipeline reports what happens in the call.

    Parameters:
        on_user_said: Each final caller transcription (and keypad entry), with when it was said.
        on_bot_turn: Each bot turn as the caller heard it.
        on_latency: Each turn's latency breakdown (see ``voice.latency``).
        on_user_idle: The caller stayed silent for ``CallSpeech.idle_secs``.
        on_user_turn_started: The caller started speaking.
        on_language: A bilingual call heard the caller's language (see ``voice.languages``).
    """

    on_user_said: UserSaid
    on_bot_turn: Callable[[BotTurn], Awaitable[None]]
    on_latency: Callable[[dict[str, Any]], Awaitable[None]]
    on_user_idle: Callable[[], Awaitable[None]] = _nothing
    on_user_turn_started: Callable[[], Awaitable[None]] = _nothing
    on_language: OnLanguage = _nothing


@dataclass
class CallPipeline:
    """One call's running parts: the worker to run, and the speaker for lines of our own."""

    worker: PipelineWorker
    speaker: CallSpeaker


def _keypad(settings: KeypadSettings | None, hooks: CallHooks) -> list[FrameProcessor]:
    if settings is None:
        return []
    keypad = KeypadInput(settings)

    async def on_entry(_processor: KeypadInput, digits: str) -> None:
        now = datetime.now(UTC)
        await hooks.on_user_said(f"DTMF: {digits}", now, now)

    keypad.add_event_handler("on_keypad_entry", on_entry)
    return [keypad]


def _aggregators(
    context: LLMContext,
    models: SpeechModels,
    speech: CallSpeech,
    hooks: CallHooks,
    hold: HoldCallerStrategy,
) -> LLMContextAggregatorPair:
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=user_turn_params(
            models.smart_turn,
            speech.turns,
            mute=[hold],
            idle_secs=speech.idle_secs,
            context=context,
        ),
    )

    async def on_idle(_aggregator: Any) -> None:
        await hooks.on_user_idle()

    async def on_started(_aggregator: Any, _strategy: Any) -> None:
        await hooks.on_user_turn_started()

    aggregators.user().add_event_handler("on_user_turn_idle", on_idle)
    aggregators.user().add_event_handler("on_user_turn_started", on_started)
    return aggregators


def _tracker(hooks: CallHooks) -> PlaybackTracker:
    tracker = PlaybackTracker()

    async def on_bot_turn(_tracker: PlaybackTracker, turn: BotTurn) -> None:
        await hooks.on_bot_turn(turn)

    tracker.add_event_handler("on_bot_turn", on_bot_turn)
    return tracker


def stop_caller_audio() -> FunctionFilter:
    """Stops the caller's audio after the user aggregator, its last listener.

    Every processor (and every observer of every push) would otherwise hand each 20 ms
    frame on to the end of the pipeline: the biggest share of the event loop's work
    per call (bench/calls.py at 8 calls).
    """

    async def not_caller_audio(frame: Frame) -> bool:
        return not isinstance(frame, InputAudioRawFrame)

    return FunctionFilter(not_caller_audio, filter_system_frames=True)


def _latency_observer(hooks: CallHooks) -> UserBotLatencyObserver:
    latency = UserBotLatencyObserver()

    async def on_breakdown(_observer: Any, breakdown: LatencyBreakdown) -> None:
        await hooks.on_latency(turn_latency(breakdown))

    latency.add_event_handler("on_latency_breakdown", on_breakdown)
    return latency


def _hearing(
    models: SpeechModels, speech: CallSpeech, hooks: CallHooks
) -> tuple[LocalWhisperSTTService, LocalTTSService, list[FrameProcessor]]:
    """The call's STT and TTS, and (a bilingual call) the language switch that follows the STT."""
    engine = speech.whisper or models.whisper
    bilingual = bool(speech.listens_for)
    stt = LocalWhisperSTTService(
        engine=engine,
        language=None if bilingual else speech.language,
        detector=LanguageDetector(engine.model, speech.listens_for) if bilingual else None,
        ttfs_p99_latency=STT_P99_SECS,
    )
    tts = LocalTTSService(synthesizer=synthesizer(models, speech.voice, speech.speed))
    switch = [LanguageSwitch(tts=tts, on_language=hooks.on_language)] if bilingual else []
    return stt, tts, switch


def build_call_worker(
    *,
    transport: BaseTransport,
    llm: FrameProcessor,
    context: LLMContext,
    models: SpeechModels,
    speech: CallSpeech,
    hooks: CallHooks,
    idle_timeout_secs: float | None = 300,
    observers: Sequence[BaseObserver] = (),
) -> CallPipeline:
    """Assemble one call's pipeline on the shared speech models.

    Args:
        transport: The call's media transport (e.g. a Twilio media stream).
        llm: The LLM service for this call.
        context: The conversation context the aggregators keep.
        models: Process-wide speech models.
        speech: Language, voice, turn-taking, keypad and silence for this call.
        hooks: Callbacks for transcript lines, latency and caller silence.
        idle_timeout_secs: End a call where no frames at all flowed for this long.
        observers: More pipecat observers of the call's frames (e.g. an audio tap).

    Returns:
        The worker to run with pipecat's ``WorkerRunner``, and its speaker.
    """
    stt, tts, switch = _hearing(models, speech, hooks)
    hold = HoldCallerStrategy()
    aggregators = _aggregators(context, models, speech, hooks, hold)
    pipeline = Pipeline(
        [
            transport.input(),
            VADProcessor(vad_analyzer=vad_analyzer(models.vad, speech.turns)),
            stt,
            *switch,
            *_keypad(speech.keypad, hooks),
            aggregators.user(),
            stop_caller_audio(),
            llm,
            tts,
            _tracker(hooks),
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = CallWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=AUDIO_IN_RATE,
            audio_out_sample_rate=AUDIO_OUT_RATE,
            enable_metrics=True,
        ),
        observers=[
            _latency_observer(hooks),
            CallerTranscriptObserver(hooks.on_user_said),
            *observers,
        ],
        enable_rtvi=False,
        idle_timeout_secs=idle_timeout_secs,
    )
    return CallPipeline(worker=worker, speaker=CallSpeaker(worker, hold))
