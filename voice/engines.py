"""Speech models loaded once per process and shared by every call."""

from __future__ import annotations

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

from voice.model_files import ModelNotFoundError, piper_voice, whisper_dir


@dataclass(frozen=True)
class SpeechConfig:
    """Which speech models to load and how.

    Parameters:
        models_dir: The models/ folder, searched for configured names.
        whisper_model: Empty for the packaged tiny.en, else a folder path or name.
        piper_voice: Empty for the packaged en_US-joe-medium, else a path or name.
        stt_threads: CPU threads per Whisper inference (0: CTranslate2's default).
        stt_workers: Whisper inferences that may run at once (calls beyond wait).
    """

    models_dir: Path
    whisper_model: str = ""
    piper_voice: str = ""
    stt_threads: int = 0
    stt_workers: int = 1


@dataclass
class WhisperEngine:
    """A loaded faster-whisper model and how we call it.

    ``transcribe`` is the seam for tuning recognition: the encoder input length
    (``pad_seconds``; Whisper pads to 30 s, CTranslate2 accepts shorter), decoding
    options and hot words all live here, not in the pipeline.
    """

    model: WhisperModel
    name: str
    multilingual: bool
    beam_size: int = 1

    def transcribe(self, audio: np.ndarray, language: str | None) -> list[tuple[str, float]]:
        """Transcribe 16 kHz mono float32 audio; blocking, call it from a worker thread.

        Returns:
            (text, no_speech_probability) per segment.
        """
        segments, _ = self.model.transcribe(
            audio,
            language=language if self.multilingual else "en",
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return [(s.text, s.no_speech_prob) for s in segments]


@dataclass(frozen=True)
class SpeechChoice:
    """The models one assistant's calls use (shared with every other call that uses them)."""

    whisper: WhisperEngine
    voice: Path


@dataclass
class SpeechModels:
    """Everything the per-call speech pipeline shares: loaded once, used by all calls."""

    config: SpeechConfig
    whisper: WhisperEngine
    default_voice: Path
    silero: onnxruntime.InferenceSession
    smart_turn: onnxruntime.InferenceSession
    _voices: dict[Path, PiperVoice] = field(default_factory=dict)
    _voices_lock: threading.Lock = field(default_factory=threading.Lock)
    _whispers: dict[Path, WhisperEngine] = field(default_factory=dict)
    _whispers_lock: threading.Lock = field(default_factory=threading.Lock)

    def voice(self, path: Path | None = None) -> PiperVoice:
        """The Piper voice at ``path`` (default voice if None), loaded on first use."""
        path = path or self.default_voice
        with self._voices_lock:
            if path not in self._voices:
                started = time.perf_counter()
                self._voices[path] = PiperVoice.load(str(path))
                logger.info(
                    f"Loaded Piper voice {path.name} in {time.perf_counter() - started:.2f}s"
                )
            return self._voices[path]

    def whisper_for(self, setting: str) -> WhisperEngine:
        """The Whisper model an assistant names (``transcriber.model``), loaded once; blocking.

        Args:
            setting: A folder name under models/ or a path; empty for the server's default.

        Raises:
            ModelNotFoundError: No CTranslate2 model there, with where to put one.
        """
        if not setting:
            return self.whisper
        path = whisper_dir(setting, self.config.models_dir)
        with self._whispers_lock:
            if path not in self._whispers:
                self._whispers[path] = _load_whisper(path, self.config)
            return self._whispers[path]

    def choose(self, *, language: str, whisper_model: str, voice_id: str) -> SpeechChoice:
        """The models for an assistant, loading what is not loaded yet; blocking.

        Raises:
            ModelNotFoundError: A model is missing, or the Whisper model cannot hear
                ``language`` (an English-only model for another language); the
                message says which files to place in models/.
        """
        problems: list[str] = []
        engine = None
        try:
            engine = self.whisper_for(whisper_model)
        except ModelNotFoundError as e:
            problems.append(str(e))
        if engine is not None and language != "en" and not engine.multilingual:
            problems.append(
                f"transcriber.language is {language!r} but the Whisper model '{engine.name}' is "
                "English-only, so it would mis-hear callers. Place a multilingual CTranslate2 "
                f"Whisper model folder in '{self.config.models_dir}' (e.g. whisper-small: "
                "model.bin, config.json, tokenizer.json, vocabulary.*) and set "
                "transcriber.model to its folder name."
            )
        voice = self.default_voice
        try:
            voice = (
                piper_voice(voice_id, self.config.models_dir) if voice_id else self.default_voice
            )
        except ModelNotFoundError as e:
            problems.append(str(e))
        if problems or engine is None:
            raise ModelNotFoundError(" ".join(problems))
        self.voice(voice)
        return SpeechChoice(whisper=engine, voice=voice)


def _load_whisper(model_dir: Path, config: SpeechConfig, name: str = "") -> WhisperEngine:
    started = time.perf_counter()
    whisper = WhisperModel(
        str(model_dir),
        device="cpu",
        compute_type="int8",
        cpu_threads=config.stt_threads or min(4, os.cpu_count() or 1),
        num_workers=max(1, config.stt_workers),
    )
    engine = WhisperEngine(
        model=whisper, name=name or model_dir.name, multilingual=bool(whisper.model.is_multilingual)
    )
    logger.info(
        f"Loaded Whisper {model_dir} ({'multilingual' if engine.multilingual else 'English-only'}) "
        f"in {time.perf_counter() - started:.2f}s"
    )
    return engine


def _packaged(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


def _onnx_session(path: str, threads: int = 1) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(
        path, sess_options=options, providers=["CPUExecutionProvider"]
    )


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
