"""A call's recording: both sides on one clock, barge-ins cut, Ogg Opus that survives a crash."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from voice.recording import CALLER_LATE_SECS, RATE, OpusRecordingFile, StereoTimeline


def tone(secs: float, rate: int = RATE, level: int = 8000) -> bytes:
    t = np.arange(int(secs * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * level).astype("<i2").tobytes()


def samples_in(secs: float) -> int:
    return round(secs * RATE)


def loud(samples: np.ndarray) -> np.ndarray:
    """Which 10 ms windows hold sound."""
    windows = samples[: len(samples) // 80 * 80].reshape(-1, 80).astype(float)
    return np.sqrt((windows**2).mean(axis=1)) > 500


def decoded(path: Path) -> tuple[np.ndarray, float]:
    """(samples at 48 kHz as (channels, n) float, seconds) of an Ogg Opus file."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
    samples = np.concatenate(frames, axis=1)
    return samples, samples.shape[1] / 48000


def test_the_caller_runs_on_as_it_arrives_and_silence_fills_a_long_gap():
    timeline = StereoTimeline(origin=100.0)
    timeline.add_caller(tone(0.5, 16000), 16000, at=100.0)
    timeline.add_caller(tone(0.5, 16000), 16000, at=100.55)  # jitter: laid end to end
    timeline.add_caller(tone(0.5, 16000), 16000, at=102.0)  # a 1 s stall: silence before it
    stereo = timeline.take()
    left = loud(stereo[:, 0])
    assert abs(len(stereo) - samples_in(2.5)) < samples_in(0.03), len(stereo) / RATE
    assert left[5:90].all() and not left[110:195].any() and left[210:240].all()
    assert not loud(stereo[:, 1]).any(), "the bot said nothing"


def test_the_bot_is_laid_where_it_plays_and_a_barge_in_cuts_what_was_queued():
    timeline = StereoTimeline(origin=0.0)
    timeline.add_bot(tone(1.0), RATE, at=1.0)  # plays 1.0-2.0
    timeline.add_bot(tone(1.0), RATE, at=2.0)  # queued: 2.0-3.0
    timeline.cut_bot(2.4)  # the caller talked over it at 2.4
    timeline.add_caller(tone(0.6), RATE, at=2.4)
    first = timeline.take(until=1.5)  # handed out in order: what is final
    rest = timeline.take()
    right = loud(np.concatenate([first[:, 1], rest[:, 1]]))
    assert not right[:100].any() and right[100:240].all() and not right[241:].any()
    assert len(first) + len(rest) == samples_in(3.0), "the caller's line ends at 3.0"


def test_a_burst_after_a_stall_lands_where_it_was_said_not_after_the_stall():
    """Twilio catching up after 2 s without frames: the recording stays as long as the call."""
    timeline = StereoTimeline(origin=0.0)
    frame = tone(0.02)
    for i in range(50):  # 0.0-1.0 s, each frame as it arrives
        timeline.add_caller(frame, RATE, at=i * 0.02)
    timeline.add_bot(tone(0.5), RATE, at=1.5)  # the bot goes on meanwhile
    early = timeline.take(until=2.5)  # nothing the stall hides is written yet
    assert len(early) == samples_in(1.0)
    for _ in range(50, 150):  # 1.0-3.0 s, all arriving at 3.0 s
        timeline.add_caller(frame, RATE, at=3.0 - 0.02)
    for i in range(150, 200):  # on time again
        timeline.add_caller(frame, RATE, at=i * 0.02)
    stereo = np.concatenate([early, timeline.take()])
    assert len(stereo) == samples_in(4.0), len(stereo) / RATE
    assert loud(stereo[:, 0])[1:399].all(), "the caller's line runs on without a hole"
    assert loud(stereo[:, 1])[151:199].all(), "still beside the bot's audio as it played"


def test_a_caller_who_sends_nothing_does_not_hold_the_file_back_for_long():
    timeline = StereoTimeline(origin=0.0)
    timeline.add_caller(tone(1.0), RATE, at=0.0)
    timeline.add_bot(tone(8.0), RATE, at=1.0)  # the caller is on hold, the bot plays music
    written = timeline.take(until=9.0)
    assert len(written) == samples_in(9.0 - CALLER_LATE_SECS)


def test_audio_for_a_time_already_written_is_dropped_not_shifted():
    timeline = StereoTimeline(origin=0.0)
    timeline.add_caller(tone(1.0), RATE, at=0.0)
    timeline.add_bot(tone(1.0), RATE, at=0.0)
    timeline.take(until=0.5)
    timeline.add_bot(tone(1.0, level=0), RATE, at=0.0)  # too late for 0.0-0.5: only 0.5-1.0 changes
    rest = timeline.take()
    assert len(rest) == samples_in(0.5) and not loud(rest[:, 1]).any()


def test_the_recording_file_keeps_the_caller_left_and_the_bot_right(tmp_path: Path):
    path = tmp_path / "call.ogg"
    recording = OpusRecordingFile(path)
    silence = np.zeros(RATE, dtype=np.int16)
    speech = np.frombuffer(tone(1.0), dtype=np.int16)
    recording.write(np.column_stack([speech, silence]))  # the caller speaks, then the bot
    recording.write(np.column_stack([silence, speech]))
    recording.close()
    samples, seconds = decoded(path)
    assert samples.shape[0] == 2 and abs(seconds - 2.0) < 0.05
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(samples[0, 4800:43200]) > 100 * rms(samples[1, 4800:43200]), "the caller, left"
    assert rms(samples[1, 52800:91200]) > 100 * rms(samples[0, 52800:91200]), "the bot, right"


WRITER = """
import sys, time
import numpy as np
from pathlib import Path
from voice.recording import RATE, OpusRecordingFile
recording = OpusRecordingFile(Path(sys.argv[1]))
second = (np.sin(np.arange(RATE) / RATE * 2 * np.pi * 440) * 8000).astype(np.int16)
while True:
    recording.write(np.column_stack([second, second]))
    print(recording.seconds, flush=True)
    time.sleep(0.05)
"""


def test_a_process_killed_mid_call_leaves_a_recording_that_plays(tmp_path: Path):
    path = tmp_path / "crashed.ogg"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        text=True,
    )
    try:
        while float(writer.stdout.readline() or "nan") < 3.0:
            assert writer.poll() is None, "the writer died by itself"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    _, seconds = decoded(path)
    assert seconds >= 2.5, f"{seconds:.2f} s of a 3 s recording survived"
