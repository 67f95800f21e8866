"""Whisper on a fixed 10 s window: speech cut into pieces that fit it, pieces decoded in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import (
    get_compression_ratio,
    get_ctranslate2_storage,
    get_suppressed_tokens,
)

RATE = 16000  # Whisper's input
HOP = 160  # samples per log-mel frame
# Whisper pads every input to 30 s (3000 mel frames); the encoder costs ~9x less on a
# 10 s window (tiny.en int8, 2 threads: 551 ms against 64 ms), and a window cut to the
# utterance's own length makes Whisper hallucinate. So every piece is padded to 10 s.
# A 5 s window for speech under 3.4 s was measured too (bench/stt_wer.py, 24 sentences):
# WER 19.0 -> 57.1 % (espeak) and 2.1 -> 40.2 % (Piper) for 67 -> 50 ms; not worth it.
WINDOW_SECS = 10.0
WINDOW_SAMPLES = int(WINDOW_SECS * RATE)
WINDOW_FRAMES = WINDOW_SAMPLES // HOP
# Speech fills at most this much of a window: Whisper skips words at the start of a
# window packed with speech to its end. A piece ends at the quietest 20 ms of its last
# seconds, so no word is cut in two.
PIECE_SECS = 7.0  # measured: 6-9.5 s all beat the 30 s window; 7 s best
PIECE_SAMPLES = int(PIECE_SECS * RATE)
# Silence before each piece: Whisper drops or mishears a first word that starts at once
# (measured on our sentences: WER 23 % without, 19-21 % with 0.1-0.25 s; 0.1 s heard
# the test sentences best).
LEAD_SAMPLES = int(0.1 * RATE)
CUT_SEARCH_SECS = 3.0
CUT_FRAME = RATE // 50
PAUSE_SECS = 0.2
# Greedy decoding (temperature 0) capped at twice a brisk speaking rate (~4 tokens a
# second, punctuation included): a hallucinating decoder stops there instead of running
# on to Whisper's 224 tokens.
TOKENS_PER_SEC = 8.0
MIN_TOKENS = 12
MAX_LENGTH = 448  # the decoder's positions
# faster-whisper's transcribe() judges each decode (its defaults): a window is silent when
# its no-speech probability is over 0.6 and its average log-probability under -1; a decode
# under -1, or one whose text gzips better than 2.4 to 1 (a decoder stuck in a loop), is
# retried sampling at temperatures 0.2..1.0, and if every retry fails too the likeliest is
# kept. Calls also dropped every window over 0.6 whatever its log-probability (pipecat's
# Whisper service does), which contains faster-whisper's silent rule.
NO_SPEECH_THRESHOLD = 0.6
COMPRESSION_RATIO_THRESHOLD = 2.4
# No retries here: a looping decode is dropped, an improbable one kept as decoded.
# Measured (tiny.en, 2 loaded cores): one retry of 5 samples costs 150-240 ms; a clipped
# "Sales," (greedy "Hail.", log-prob -1.28) retried as "No, no, no, no, no, no, no,"
# (-0.5, gzip 1.9), which passes both tests; and the retries of the one bench sentence
# under -1 (espeak) stayed under -1. Dropping improbable decodes instead loses real
# speech: espeak's "For sales, press one." decodes at -1.24 ("4th ale, breath 1").


@dataclass(frozen=True)
class Decoded:
    """One window as the greedy decoder heard it, with the scores faster-whisper judges by.

    Parameters:
        text: The words, stripped.
        no_speech_prob: Whisper's probability that the window holds no speech.
        avg_logprob: The tokens' log-probability per token (faster-whisper's measure:
            their sum over their count plus one, for the end token).
    """

    text: str
    no_speech_prob: float
    avg_logprob: float

    @property
    def compression_ratio(self) -> float:
        """The text's length over its gzip length: high for a decoder stuck repeating itself."""
        return get_compression_ratio(self.text)

    @property
    def heard(self) -> str:
        """The text, or "" when the window is probably not speech or its decoder looped."""
        if self.no_speech_prob >= NO_SPEECH_THRESHOLD:
            return ""
        if self.compression_ratio > COMPRESSION_RATIO_THRESHOLD:
            return ""
        return self.text


@dataclass(frozen=True)
class Piece:
    """At most one window of 16 kHz float32 speech, and the language to hear it in.

    Parameters:
        audio: The speech.
        language: ISO 639-1 code; None: Whisper tells it (multilingual models).
    """

    audio: np.ndarray
    language: str | None


def pieces(audio: np.ndarray) -> list[np.ndarray]:
    """``audio`` cut into pieces that each fit a window, every cut at a quiet moment."""
    found: list[np.ndarray] = []
    start = 0
    while len(audio) - start > PIECE_SAMPLES:
        cut = start + _quietest(audio[start : start + PIECE_SAMPLES])
        found.append(audio[start:cut])
        start = cut
    found.append(audio[start:])
    return found


def _quietest(piece: np.ndarray) -> int:
    """The middle of the quietest stretch in a full piece's last seconds (a sample index).

    Energy is averaged over ``PAUSE_SECS``: a pause between words, not the closure of
    a consonant inside one.
    """
    begin = len(piece) - int(CUT_SEARCH_SECS * RATE)
    frames = (len(piece) - begin) // CUT_FRAME
    energy = (piece[begin : begin + frames * CUT_FRAME].reshape(frames, CUT_FRAME) ** 2).mean(1)
    width = max(1, int(PAUSE_SECS * RATE) // CUT_FRAME)
    smoothed = np.convolve(energy, np.ones(width) / width, mode="valid")
    return begin + (int(np.argmin(smoothed)) + width // 2) * CUT_FRAME + CUT_FRAME // 2


def features(model: WhisperModel, audio: np.ndarray) -> np.ndarray:
    """Log-mel features of one piece, padded with silence to the window (as Whisper pads)."""
    padded = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    speech = audio[: WINDOW_SAMPLES - LEAD_SAMPLES]
    padded[LEAD_SAMPLES : LEAD_SAMPLES + len(speech)] = speech
    mel = model.feature_extractor(padded, padding=0)
    return mel[:, :WINDOW_FRAMES]


def _max_length(prompt: int, seconds: float) -> int:
    # CTranslate2 4.8 stops Whisper's greedy search at about half of max_length (measured:
    # max_length 21 gave 10 tokens after a 2-token prompt), so the cap is doubled.
    tokens = max(MIN_TOKENS, int(TOKENS_PER_SEC * seconds))
    return min(MAX_LENGTH, 2 * (prompt + tokens))


def _decoded(tokenizer: Tokenizer, result: ctranslate2.models.WhisperGenerationResult) -> Decoded:
    tokens = result.sequences_ids[0]
    # As faster-whisper recovers it: the score is the log-probability over the length
    # (length penalty 1); the average counts the end token too.
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    text = tokenizer.decode([i for i in tokens if i < tokenizer.eot]).strip()
    return Decoded(text, result.no_speech_prob, avg_logprob)


class WindowDecoder:
    """Transcribes batches of pieces on one model: one encoder pass and one greedy decode each.

    Blocking; call it from a worker thread. CTranslate2 runs the batch's encoder and
    decoder steps as single matrix operations, so a batch of four costs far less than
    four single transcriptions.
    """

    def __init__(self, model: WhisperModel, multilingual: bool):
        """Decode with a loaded faster-whisper model."""
        self._model = model
        self._multilingual = multilingual
        self._tokenizers: dict[str | None, Tokenizer] = {}

    def __call__(self, batch: Sequence[Piece]) -> list[tuple[str, float]]:
        """(text, no-speech probability) for each piece, in order.

        The text is "" for a piece that is probably not speech or that the decoder
        looped on (see :attr:`Decoded.heard`).
        """
        return [(d.heard, d.no_speech_prob) for d in self.decode(batch)]

    def decode(self, batch: Sequence[Piece]) -> list[Decoded]:
        """Each piece as decoded, with its scores, in order; one encoder pass for all."""
        if not batch:
            return []
        mel = get_ctranslate2_storage(np.stack([features(self._model, p.audio) for p in batch]))
        languages = [self._language(p.language, mel, i) for i, p in enumerate(batch)]
        tokenizers = [self._tokenizer(language) for language in languages]
        prompts = [[*t.sot_sequence, t.no_timestamps] for t in tokenizers]
        longest = max(len(p.audio) for p in batch) / RATE
        results = self._model.model.generate(
            mel,
            prompts,
            beam_size=1,
            max_length=_max_length(len(prompts[0]), longest),
            return_no_speech_prob=True,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizers[0], [-1])),
        )
        return [_decoded(t, r) for t, r in zip(tokenizers, results, strict=True)]

    def _language(self, language: str | None, mel: ctranslate2.StorageView, index: int) -> str:
        if not self._multilingual:
            return "en"
        if language is not None:
            return language
        # Rare: a multilingual call whose language nobody told (bilingual calls detect first).
        detected = self._model.model.detect_language(mel)[index][0][0]
        return detected[2:-2]

    def _tokenizer(self, language: str) -> Tokenizer:
        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self._model.hf_tokenizer,
                self._multilingual,
                task="transcribe",
                language=language if self._multilingual else "en",
            )
        return self._tokenizers[language]
