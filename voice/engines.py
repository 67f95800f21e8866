"""Speech models loaded once per process and shared by every call."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime
from faster_whisper import WhisperModel
from loguru import logger
from piper import PiperVoice
from piper.config import PiperConfig

from voice.espeak import DEMO_VOICE_NOTICE, EspeakVoice, espeak_voice
from voice.model_files import ModelNotFoundError, language_piper_voice, piper_voice, whisper_dir
from voice.packaged_whisper import default_cache_dir, multilingual_whisper_dir
from voice.synthesis_pool import SynthesisPool
from voice.vad_pool import VADPool
from voice.whisper_pool import WhisperPool
from voice.whisper_windows import WindowDecoder

# A Piper voice file, or espeak-ng's demo voice for a language that has no Piper voice here.
Voice = Path | EspeakVoice


@dataclass(frozen=True)
class SpeechConfig:
    """Which speech models to load and how.

    Parameters:
        models_dir: The models/ folder, searched for configured names.
        whisper_model: Empty for the packaged tiny.en, else a folder path or name.
        piper_voice: Empty for the packaged en_US-joe-medium, else a path or name.
        stt_threads: CPU threads per Whisper pass (0: :func:`default_stt_threads`).
        stt_workers: Whisper passes that may run at once; each pass is a batch of
            pieces from any calls (see ``voice.whisper_pool``), so one is enough for
            a few cores.
        cache_dir: Where models assembled from pip packages are kept (None: the
            user's cache, ``~/.cache/phoneagent``).
    """

    models_dir: Path
    whisper_model: str = ""
    piper_voice: str = ""
    stt_threads: int = 0
    stt_workers: int = 1
    cache_dir: Path | None = None


@dataclass
class WhisperEngine:
    """A loaded faster-whisper model, and the pool of workers every call transcribes through.

    Recognition is tuned in ``voice.whisper_windows`` (every piece of speech is encoded
    on a fixed 10 s window, not Whisper's 30 s, and decoded greedily with a token cap);
    sharing in ``voice.whisper_pool`` (pieces of all calls batched, end-of-turn first).
    """

    model: WhisperModel
    name: str
    multilingual: bool
    workers: int = 1
    pool: WhisperPool = field(init=False)

    def __post_init__(self) -> None:
        self.pool = WhisperPool(WindowDecoder(self.model, self.multilingual), workers=self.workers)

    def transcribe(self, audio: np.ndarray, language: str | None) -> list[tuple[str, float]]:
        """Transcribe 16 kHz mono float32 audio as a caller's end of turn; blocking.

        Returns:
            (text, no_speech_probability) per window-sized piece; the text is ""
            where the piece is probably not speech (``voice.whisper_windows``).
        """
        return self.pool.submit(audio, language).result()


@dataclass(frozen=True)
class SpeechChoice:
    """The models one assistant's calls use (shared with every other call that uses them)."""

    whisper: WhisperEngine
    voice: Voice


@dataclass
class SpeechModels:
    """Everything the per-call speech pipeline shares: loaded once, used by all calls."""

    config: SpeechConfig
    whisper: WhisperEngine
    default_voice: Path
    silero: onnxruntime.InferenceSession
    smart_turn: onnxruntime.InferenceSession
    # One worker. Measured on 2 cores, when a Piper run still used every core: 8 greetings
    # at once, first audio p50 ~0.63 s on one worker, 0.77-1.17 s on two, 0.9-1.5 s on
    # asyncio's threads; with each run on one thread (_load_piper), 8 calls at once, three
    # runs each: caller-side voice-to-voice p95 1013/1286/1022 ms on one worker,
    # 1418/1196/1327 ms on two (Whisper and the calls' audio need the other core).
    synthesis: SynthesisPool = field(default_factory=lambda: SynthesisPool(workers=1))
    # Every call's VAD windows, scored off the event loop on one thread (voice.vad_pool).
    vad: VADPool = field(init=False)
    _voices: dict[Path, PiperVoice] = field(default_factory=dict)
    _voices_lock: threading.Lock = field(default_factory=threading.Lock)
    _whispers: dict[Path, WhisperEngine] = field(default_factory=dict)
    _whispers_lock: threading.Lock = field(default_factory=threading.Lock)
    _multilingual_dir: Path | None = None
    _espeak_noticed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.vad = VADPool(self.silero)

    def voice(self, path: Path | None = None) -> PiperVoice:
        """The Piper voice at ``path`` (default voice if None), loaded on first use."""
        path = path or self.default_voice
        with self._voices_lock:
            if path not in self._voices:
                started = time.perf_counter()
                self._voices[path] = _load_piper(path)
                logger.info(
                    f"Loaded Piper voice {path.name} in {time.perf_counter() - started:.2f}s"
                )
            return self._voices[path]

    def close(self) -> None:
        """Stop the Whisper workers, the synthesis and VAD threads (queued work is cancelled)."""
        self.synthesis.close()
        self.vad.close()
        with self._whispers_lock:
            for engine in {id(e): e for e in [self.whisper, *self._whispers.values()]}.values():
                engine.pool.close()

    def release_memory(self) -> None:
        """Give back the memory a burst of calls left in the Piper arenas; blocking.

        Call only while no call is speaking (e.g. when the last call has ended).
        """
        with self._voices_lock:
            voices = list(self._voices.values())
        for voice in voices:
            try:
                shrink_piper_arena(voice)
            except Exception as e:  # an unusual voice model: its arena stays as it is
                logger.debug(f"could not shrink a Piper arena: {e}")

    def whisper_for(self, setting: str, language: str = "en") -> WhisperEngine:
        """The Whisper model for an assistant's calls, loaded once; blocking.

        Args:
            setting: ``transcriber.model``: a folder name under models/ or a path; empty
                for the server's default (``WHISPER_MODEL``), or, for a language other
                than English when that default is English-only, the multilingual base
                shipped through pip.
            language: The caller's language (ISO 639-1).

        Raises:
            ModelNotFoundError: No CTranslate2 model there, with where to put one.
        """
        if not setting and (language == "en" or self.whisper.multilingual):
            return self.whisper
        if setting:
            path, name = whisper_dir(setting, self.config.models_dir), ""
        else:
            path, name = self._packaged_multilingual(), "base"
        with self._whispers_lock:
            if path not in self._whispers:
                self._whispers[path] = _load_whisper(path, self.config, name)
            return self._whispers[path]

    def _packaged_multilingual(self) -> Path:
        with self._whispers_lock:  # assembled (or found) once per process
            if self._multilingual_dir is None:
                cache = self.config.cache_dir or default_cache_dir()
                self._multilingual_dir = multilingual_whisper_dir(cache)
            return self._multilingual_dir

    def voice_for(self, voice_id: str, language: str) -> Voice:
        """The voice an assistant speaks with; Piper voices are loaded once; blocking.

        Args:
            voice_id: ``voice.voiceId``, a Piper voice; empty for the language's default:
                for English the server's (``PIPER_VOICE``), for another language a Piper
                voice for it in models/, else espeak-ng's robotic demo voice, else the
                server's.
            language: The caller's language tag (``es``, ``es-MX``).

        Raises:
            ModelNotFoundError: The named Piper voice is not in models/.
        """
        if voice_id:
            voice: Voice = piper_voice(voice_id, self.config.models_dir)
        elif language.split("-")[0] == "en":
            voice = self.default_voice
        else:
            voice = (
                language_piper_voice(language, self.config.models_dir)
                or espeak_voice(language)
                or self.default_voice
            )
        if isinstance(voice, EspeakVoice):
            with self._voices_lock:
                if voice.name not in self._espeak_noticed:
                    self._espeak_noticed.add(voice.name)
                    logger.warning(DEMO_VOICE_NOTICE.format(language=language, voice=voice.name))
        else:
            self.voice(voice)
        return voice

    def choose(
        self, *, language: str, whisper_model: str, voice_id: str, locale: str = ""
    ) -> SpeechChoice:
        """The models for an assistant, loading what is not loaded yet; blocking.

        Args:
            language: The caller's language, ISO 639-1.
            whisper_model: ``transcriber.model`` (empty: the language's default).
            voice_id: ``voice.voiceId`` (empty: the language's default).
            locale: The full language tag (``es-MX``), to pick a regional voice.

        Raises:
            ModelNotFoundError: A model is missing, or the Whisper model cannot hear
                ``language`` (an English-only model for another language); the
                message says which files to place in models/.
        """
        problems: list[str] = []
        engine = voice = None
        try:
            engine = self.whisper_for(whisper_model, language)
        except ModelNotFoundError as e:
            problems.append(str(e))
        if engine is not None and language != "en" and not engine.multilingual:
            problems.append(
                f"transcriber.language is {language!r} but the Whisper model '{engine.name}' is "
                "English-only, so it would mis-hear callers. Leave transcriber.model empty for the "
                "multilingual default, or place a multilingual CTranslate2 Whisper model folder "
                f"in '{self.config.models_dir}' (e.g. whisper-small: model.bin, config.json, "
                "tokenizer.json, vocabulary.*) and set transcriber.model to its folder name."
            )
        try:
            voice = self.voice_for(voice_id, locale or language)
        except ModelNotFoundError as e:
            problems.append(str(e))
        if problems or engine is None or voice is None:
            raise ModelNotFoundError(" ".join(problems))
        return SpeechChoice(whisper=engine, voice=voice)


def default_stt_threads(workers: int = 1, cores: int | None = None) -> int:
    """Whisper's threads per pass: every core but one (at most 4), shared among the workers.

    The core left over keeps the event loop, Piper and the VAD running while Whisper
    encodes. Measured on 2 cores (bench/calls.py, 16 calls, 8 at a time, 3 turns each):
    Whisper on both cores gave caller-side voice-to-voice p95 1325-1912 ms and 9-20
    playout stalls over 60 ms; on one core, 978 ms and 1.
    """
    cores = cores or os.cpu_count() or 1
    return max(1, min(4, cores - 1) // max(1, workers))


def _load_whisper(model_dir: Path, config: SpeechConfig, name: str = "") -> WhisperEngine:
    started = time.perf_counter()
    whisper = WhisperModel(
        str(model_dir),
        device="cpu",
        compute_type="int8",
        cpu_threads=config.stt_threads or default_stt_threads(config.stt_workers),
        num_workers=max(1, config.stt_workers),
    )
    engine = WhisperEngine(
        model=whisper,
        name=name or model_dir.name,
        multilingual=bool(whisper.model.is_multilingual),
        workers=max(1, config.stt_workers),
    )
    logger.info(
        f"Loaded Whisper {model_dir} ({'multilingual' if engine.multilingual else 'English-only'}) "
        f"in {time.perf_counter() - started:.2f}s"
    )
    return engine


def _packaged(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


def _onnx_session(path: str, threads: int = 1) -> onnxruntime.InferenceSession:
    """A CPU session for the small per-turn models (VAD, smart-turn), shared by every call.

    Without ONNX Runtime's memory arena: an arena keeps the largest working set it was
    ever asked for, so one session run by many calls at once (a burst) would stay at
    the burst's peak. These models' tensors are small; malloc serves them as fast.
    """
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = False
    return onnxruntime.InferenceSession(
        path, sess_options=options, providers=["CPUExecutionProvider"]
    )


def _load_piper(path: Path) -> PiperVoice:
    """A Piper voice (``path`` and its ``.json`` beside it) whose session runs on one thread.

    Piper's own loader gives the session every core. Alone that is faster (the first
    sentence of a reply in ~75 ms instead of ~140 ms here), but with other calls'
    speech running, a run split over two threads waits for whichever was preempted:
    measured on 2 cores (bench/calls.py, 8 calls at once, 4 turns each, three runs of
    each setting interleaved), caller-side voice-to-voice p50/p95 was 801/1144,
    921/1758 and 1535/2875 ms with 19, 69 and 375 playout stalls on two threads, and
    671/1019, 833/1324 and 707/1011 ms with 2, 28 and 0 stalls on one (two threads
    without spin-waiting: 780/1327, 959/1436, 906/1349 ms).
    """
    config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def shrink_piper_arena(voice: PiperVoice) -> None:
    """Have a Piper voice's session give back what its memory arena holds unused; blocking.

    Piper keeps ONNX Runtime's arena (synthesis is ~15% slower without it, measured on
    2 busy cores), which grows to the peak of the calls synthesizing at once and never
    shrinks by itself. One tiny run with the arena-shrinkage option, while no call is
    speaking, frees every region not in use.
    """
    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    ids = np.array([voice.phonemes_to_ids(["a"])], dtype=np.int64)
    inputs = {
        "input": ids,
        "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
    }
    if voice.config.num_speakers > 1:
        inputs["sid"] = np.array([voice.config.default_speaker_id or 0], dtype=np.int64)
    voice.session.run(None, inputs, options)


def load_speech_models(config: SpeechConfig) -> SpeechModels:
    """Load Whisper, the default Piper voice, Silero VAD and smart-turn; blocking.

    Raises:
        ModelNotFoundError: A configured or default model is missing.
    """
    started = time.perf_counter()
    model_dir = whisper_dir(config.whisper_model, config.models_dir)
    engine = _load_whisper(model_dir, config, "" if config.whisper_model else "tiny.en")
    voice_path = piper_voice(config.piper_voice, config.models_dir)
    models = SpeechModels(
        config=config,
        whisper=engine,
        default_voice=voice_path,
        silero=_onnx_session(_packaged("pipecat.audio.vad.data", "silero_vad.onnx")),
        smart_turn=_onnx_session(
            _packaged("pipecat.audio.turn.smart_turn.data", "smart-turn-v3.2-cpu.onnx")
        ),
    )
    models._whispers[model_dir] = engine
    models.voice()
    logger.info(
        f"Speech models ready in {time.perf_counter() - started:.2f}s: whisper={model_dir} "
        f"({'multilingual' if engine.multilingual else 'English-only'}), voice={voice_path.name}"
    )
    return models
