"""A call's recording as it happens: both sides on one clock, written to Ogg Opus as it goes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soxr

RATE = 8000  # phone audio; the recording needs no more
# The caller's audio runs on as it arrives; once it falls this far behind the clock
# (a muted browser, a stalled network) the gap becomes silence.
CALLER_GAP_SECS = 0.25
# ...unless audio then comes faster than it is spoken (a stalled network or server
# catching up): it was late, not absent, so the silence before it shrinks. That stays
# possible for this long: no gap younger than this is written to the file.
CALLER_LATE_SECS = 5.0
BITRATE = 24_000  # both channels together (Opus spends less on silence)
PAGE_SECS = 0.2  # an Ogg page reaches the disk at least this often


def _pcm(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, dtype="<i2")


class StereoTimeline:
    """The caller (left) and what they heard of the bot (right) on one clock, handed out in order.

    Times are monotonic seconds. The caller's audio is laid end to end as it arrives
    (carriers send it continuously), with silence once it falls more than
    :data:`CALLER_GAP_SECS` behind the clock; audio that then runs ahead of the clock
    came late in a burst and closes that silence again. The bot's audio is laid where it plays
    out, and :meth:`cut_bot` drops what was queued past a barge-in, so the right
    channel is what the caller heard. :meth:`take` hands out what is final: nothing
    earlier can change, and silence fills what neither side said.
    """

    def __init__(self, origin: float, rate: int = RATE):
        """A timeline whose sample 0 is at monotonic time ``origin``."""
        self.origin = origin
        self.rate = rate
        self._taken = 0  # samples handed out so far
        self._left = np.zeros(0, dtype=np.int16)  # from sample _taken on
        self._right = np.zeros(0, dtype=np.int16)
        self._left_end = 0  # where the caller's audio ends (absolute sample)
        self._gap: tuple[int, int] | None = None  # the caller's last silence, while it may shrink
        self._caller_resampler: tuple[int, soxr.ResampleStream] | None = None

    @property
    def taken_secs(self) -> float:
        """Seconds handed out so far."""
        return self._taken / self.rate

    def index(self, at: float) -> int:
        """The sample at monotonic time ``at``."""
        return round((at - self.origin) * self.rate)

    def add_caller(self, audio: bytes, sample_rate: int, at: float) -> None:
        """Caller audio (16-bit mono PCM) that began at ``at``."""
        samples = self._caller_samples(audio, sample_rate)
        start = self.index(at)
        if start > self._left_end + CALLER_GAP_SECS * self.rate:
            self._gap = (self._left_end, start)
            self._left_end = start
        self._left = self._place(self._left, samples, self._left_end)
        self._left_end += len(samples)
        self._close_gap(ahead=self._left_end - (start + len(samples)))

    def _close_gap(self, ahead: int) -> None:
        """The caller's track ends ``ahead`` samples past the clock: take that from its last gap.

        The audio arrived faster than it is spoken, so it was said earlier: e.g. Twilio
        catching up over TCP after a stall, or frames queued while the call started.
        """
        if ahead <= 0 or self._gap is None:
            return
        start, end = max(self._gap[0], self._taken), self._gap[1]
        shrink = min(ahead, end - start)
        if shrink <= 0:
            return
        cut = end - shrink - self._taken
        self._left = np.concatenate([self._left[:cut], self._left[cut + shrink :]])
        self._left_end -= shrink
        self._gap = (start, end - shrink) if shrink < end - start else None

    def add_bot(self, audio: bytes, sample_rate: int, at: float) -> None:
        """Bot audio (16-bit mono PCM) that starts playing to the caller at ``at``."""
        samples = _pcm(audio)
        if sample_rate != self.rate:
            samples = soxr.resample(samples, sample_rate, self.rate)
        self._right = self._place(self._right, samples, self.index(at))

    def cut_bot(self, at: float) -> None:
        """The caller heard no bot audio queued past ``at`` (it was cleared)."""
        keep = max(0, self.index(at) - self._taken)
        self._right = self._right[:keep]

    def take(self, until: float | None = None) -> np.ndarray:
        """Stereo samples (``(n, 2)`` int16) up to ``until`` (None: everything laid so far)."""
        if until is None:
            end = max(self._left_end, self._taken + len(self._right))
        else:
            end = min(self.index(until), self._caller_final(until))
        count = end - self._taken
        if count <= 0:
            return np.zeros((0, 2), dtype=np.int16)
        left, right = _fit(self._left, count), _fit(self._right, count)
        self._left, self._right = self._left[count:], self._right[count:]
        self._taken = end
        return np.column_stack([left, right])

    def _caller_final(self, until: float) -> int:
        """Up to where the caller's track can no longer change by ``until``.

        Its end, or the start of a gap late audio may still close, but never more than
        :data:`CALLER_LATE_SECS` behind ``until`` (a caller who sends nothing: a SIP hold).
        """
        if self._gap is not None and self._gap[1] <= self._taken:
            self._gap = None
        settled = self._left_end if self._gap is None else self._gap[0]
        return max(settled, self.index(until - CALLER_LATE_SECS))

    def _caller_samples(self, audio: bytes, sample_rate: int) -> np.ndarray:
        samples = _pcm(audio)
        if sample_rate == self.rate:
            return samples
        if self._caller_resampler is None or self._caller_resampler[0] != sample_rate:
            stream = soxr.ResampleStream(sample_rate, self.rate, 1, dtype="int16")
            self._caller_resampler = (sample_rate, stream)
        return self._caller_resampler[1].resample_chunk(samples)

    def _place(self, track: np.ndarray, samples: np.ndarray, start: int) -> np.ndarray:
        """``samples`` written into ``track`` (which begins at sample ``_taken``) from ``start``."""
        offset = start - self._taken
        if offset < 0:  # already handed out: too late to change
            samples, offset = samples[-offset:], 0
        end = offset + len(samples)
        if end > len(track):
            track = np.concatenate([track, np.zeros(end - len(track), dtype=np.int16)])
        track[offset:end] = samples
        return track


def _fit(track: np.ndarray, count: int) -> np.ndarray:
    if len(track) >= count:
        return track[:count]
    return np.concatenate([track, np.zeros(count - len(track), dtype=np.int16)])


class OpusRecordingFile:
    """A stereo recording written as Ogg Opus while the call runs.

    Opus at 24 kbit/s for both channels (``voip`` mode keeps the two voices apart:
    no measurable crosstalk when both talk at once), 8 kHz in. Each Ogg page reaches
    the file within :data:`PAGE_SECS`, so a process killed mid-call leaves a file
    that plays up to then. :meth:`close` writes the last page.
    """

    suffix = ".ogg"
    content_type = "audio/ogg"

    def __init__(self, path: Path, rate: int = RATE, bitrate: int = BITRATE):
        """Create (or overwrite) the file at ``path``.

        Raises:
            OSError: The file cannot be created.
        """
        self.path = path
        self.rate = rate
        options = {"flush_packets": "1", "page_duration": str(int(PAGE_SECS * 1e6))}
        try:
            self._container = av.open(str(path), "w", format="ogg", options=options)
        except av.error.FFmpegError as e:
            raise OSError(f"cannot create {path}: {e}") from None
        self._stream = self._container.add_stream("libopus", rate=rate, layout="stereo")
        self._stream.bit_rate = bitrate
        self._stream.options = {"application": "voip"}
        self._samples = 0
        self.closed = False

    @property
    def seconds(self) -> float:
        """Seconds written so far."""
        return self._samples / self.rate

    def write(self, stereo: np.ndarray) -> None:
        """Append ``(n, 2)`` int16 samples."""
        if self.closed or not len(stereo):
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(stereo, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="stereo",
        )
        frame.sample_rate = self.rate
        frame.pts = self._samples
        self._samples += len(stereo)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and write the file's last page."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
