"""Benchmark: smart-turn's verdicts at each VAD stop against where callers really stop.

    python bench/turn_verdicts.py [--vad-stop 0.15 0.2 0.3] [--pauses 0.3 0.5 0.8] [--show]

Callers are espeak-ng (the simulated callers' voice, bench/calls.py's lines and
bench/stt_wer.py's sentences) and Piper joe-medium, through a phone line (8 kHz
mu-law, back up to 16 kHz). Each sentence is said whole (its last VAD stop is the
real end of the turn) and, by espeak-ng with an SSML break, with a pause mid-sentence
(a VAD stop there is not the end: the caller goes on). Silero VAD (our settings) and
smart-turn v3 run frame by frame as in a call; at every VAD stop smart-turn's
probability of "complete" is kept. The table then gives, for each VAD stop time,
smart-turn threshold and longest wait (``TurnTaking.max_pause_secs``):

- end of speech p50/p95: from the caller's last word to the end of their turn (VAD
  stop, plus the wait when smart-turn hears them mid-sentence);
- cut: mid-sentence pauses the turn would end on (judged complete and the pause
  outlasted the transcription, or it outlasted the wait), out of all mid-sentence stops.

Each is given for four ways of deciding (``MODES``): smart-turn alone, or with the
transcript's words (``voice.turn_words.reads_finished``) as a second opinion.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADState  # noqa: E402

from bench.calls import LINES  # noqa: E402
from bench.stt_wer import SENTENCES, phone, speakers  # noqa: E402
from telephony.simulator.caller_audio import _to_ulaw  # noqa: E402
from voice.engines import SpeechConfig, load_speech_models  # noqa: E402
from voice.latency import percentile  # noqa: E402
from voice.stt import NO_SPEECH_THRESHOLD  # noqa: E402
from voice.turn_words import reads_finished  # noqa: E402
from voice.turns import SharedSmartTurnAnalyzer, TurnTaking, vad_analyzer  # noqa: E402

RATE = 16000
CHUNK = RATE // 50  # 20 ms, as a call's frames arrive
LEAD = np.zeros(int(0.3 * RATE), dtype=np.float32)
TAIL = np.zeros(int(2.0 * RATE), dtype=np.float32)
STT_SECS = 0.2  # a final transcription comes this long after the VAD stop (bench STT p50)


@dataclass
class Stop:
    """One VAD stop: smart-turn's probability, and when it came after the last word (s)."""

    probability: float
    after_speech: float
    final: bool  # the real end of the turn; else a mid-sentence pause
    text: str  # what the STT passes on at this stop (the speech so far)
    voice: str
    pause: float = 0.0  # the mid-sentence pause's length


def espeak_paused(first: str, rest: str, pause: float) -> bytes:
    """``first``, a pause, ``rest``: one sentence (its prosody) with an SSML break."""
    text = f"<speak>{first} <break time='{int(pause * 1000)}ms'/> {rest}</speak>"
    out = subprocess.run(
        [shutil.which("espeak-ng") or "espeak-ng", "-m", "-v", "en-us", "-s", "165", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    samples, rate = soundfile.read(io.BytesIO(out), dtype="float32")
    return _to_ulaw(samples, rate)


async def stops(models, turns: TurnTaking, audio: np.ndarray) -> list[tuple[float, float, str]]:
    """(smart-turn probability, audio time of the VAD stop, transcript) for each VAD stop."""
    vad = vad_analyzer(models.vad, turns)
    vad.set_sample_rate(RATE)
    smart = SharedSmartTurnAnalyzer(
        session=models.smart_turn, params=SmartTurnParams(stop_secs=turns.max_pause_secs)
    )
    smart.set_sample_rate(RATE)
    smart.update_vad_start_secs(turns.vad_start_secs)
    pcm = (np.concatenate([LEAD, audio, TAIL]) * 32767).astype(np.int16).tobytes()
    speaking, found = False, []
    for i in range(0, len(pcm) - CHUNK * 2 + 1, CHUNK * 2):
        chunk = pcm[i : i + CHUNK * 2]
        state = await vad.analyze_audio(chunk)
        if state == VADState.SPEAKING and not speaking:
            speaking = True
        elif state == VADState.QUIET and speaking:
            speaking = False
            _, metrics = await smart.analyze_end_of_turn()
            t = (i + CHUNK * 2) / 2 / RATE - len(LEAD) / RATE
            heard = models.whisper.transcribe(audio[: int(t * RATE)], "en")
            text = " ".join(t.strip() for t, p in heard if p < NO_SPEECH_THRESHOLD).strip()
            found.append((metrics.probability if metrics else 1.0, t, text))
        smart.append_audio(chunk, speaking)
    return found


def speech_end(audio: np.ndarray) -> float:
    """When the last word ends (s): the last sample above a whisper."""
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return (loud[-1] + 1) / RATE if loud.size else 0.0


def last_word_before(audio: np.ndarray, t: float) -> float:
    """When the last word before ``t`` ended (s)."""
    loud = np.flatnonzero(np.abs(audio[: int(t * RATE)]) > 0.01)
    return (loud[-1] + 1) / RATE if loud.size else 0.0


async def collect(models, turns: TurnTaking, pauses: list[float], voices: list[str]) -> list[Stop]:
    found: list[Stop] = []
    sentences = LINES + SENTENCES
    for name, speak in speakers(voices).items():
        for sentence in sentences:
            audio = phone(speak(sentence))
            end = speech_end(audio)
            for p, t, text in await stops(models, turns, audio):
                found.append(Stop(p, t - end, t >= end, text, name))
        if name != "espeak":
            continue
        for sentence in sentences:
            words = sentence.split()
            if len(words) < 4:
                continue
            half = len(words) // 2
            for pause in pauses:
                audio = phone(espeak_paused(" ".join(words[:half]), " ".join(words[half:]), pause))
                end = speech_end(audio)
                for p, t, text in await stops(models, turns, audio):
                    final = t >= end
                    after = t - (end if final else last_word_before(audio, t))
                    found.append(Stop(p, after, final, text, name, 0.0 if final else pause))
    return found


# How a stop's end of turn is decided: smart-turn alone (as pipecat does), smart-turn or
# finished-reading words (either ends the turn), both, or the words alone.
MODES = {
    "smart-turn": lambda heard, read: heard,
    "smart-turn or words": lambda heard, read: heard or read,
    "smart-turn and words": lambda heard, read: heard and read,
    "words": lambda heard, read: read,
}


def report(label: str, found: list[Stop], threshold: float, wait: float, mode: str) -> str:
    """One setting's figures."""

    def done(s: Stop) -> bool:
        return MODES[mode](s.probability >= threshold, reads_finished(s.text))

    finals = [s for s in found if s.final]
    mids = [s for s in found if not s.final]
    ends = [s.after_speech + (0.0 if done(s) else wait) for s in finals]
    cut = sum(
        1
        for s in mids
        if (done(s) and s.pause > s.after_speech + STT_SECS) or s.pause > s.after_speech + wait
    )
    complete = sum(done(s) for s in finals)
    return (
        f"  {label:<40} end of speech p50 {1000 * percentile(ends, 50):5.0f} "
        f"p95 {1000 * percentile(ends, 95):5.0f} ms  heard complete {complete:>3}/{len(finals)}"
        f"  cut mid-sentence {cut:>2}/{len(mids)}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vad-stop", nargs="*", type=float, default=[0.15, 0.2, 0.3])
    parser.add_argument("--pauses", nargs="*", type=float, default=[0.3, 0.5, 0.8])
    parser.add_argument("--thresholds", nargs="*", type=float, default=[0.5])
    parser.add_argument("--waits", nargs="*", type=float, default=[1.2, 1.0, 0.8, 0.6])
    parser.add_argument("--voices", nargs="*", default=["espeak", "piper"])
    parser.add_argument("--show", action="store_true", help="print every probability")
    args = parser.parse_args()
    models = load_speech_models(SpeechConfig(models_dir=Path("models")))
    for vad_stop in args.vad_stop:
        turns = TurnTaking(vad_stop_secs=vad_stop)
        found = await collect(models, turns, args.pauses, args.voices)
        finals = sorted(s.probability for s in found if s.final)
        mids = sorted(s.probability for s in found if not s.final)
        print(
            f"VAD stop {vad_stop:.2f} s: {len(finals)} real ends, p(complete) median "
            f"{np.median(finals):.2f}; {len(mids)} mid-sentence stops, median {np.median(mids):.2f}"
        )
        if args.show:
            for s in found:
                kind = "END" if s.final else f"mid {s.pause:.1f}"
                print(f"   {kind:<8} {s.voice:<7} p {s.probability:.2f} {s.text!r}")
        for mode in MODES:
            for threshold in args.thresholds:
                for wait in args.waits:
                    label = f"{mode}, p>={threshold:.2f}, wait {wait:.1f} s"
                    print(report(label, found, threshold, wait, mode))


if __name__ == "__main__":
    asyncio.run(main())
