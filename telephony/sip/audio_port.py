"""A call's audio in Python: a pjsua2 port on PJSIP's conference bridge, 20 ms PCM each way."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

import pjsua2 as pj

from telephony.sip.outgoing import FRAME_BYTES, FRAME_MSEC, SAMPLE_RATE, SILENCE, OutgoingAudio


def _read_vector_fast(vector: pj.ByteVector) -> bytes:
    # A std::vector<unsigned char> is three pointers (begin, end, capacity) in libstdc++;
    # reading begin..end costs ~3 us, where SWIG's element-by-element copy costs ~170 us.
    words = (ctypes.c_size_t * 2).from_address(int(vector.this))
    return ctypes.string_at(words[0], words[1] - words[0])


def _read_vector_slow(vector: pj.ByteVector) -> bytes:
    return bytes(tuple(vector))


def _pick_vector_reader() -> Callable[[pj.ByteVector], bytes]:
    probe = bytes(range(256)) * 2
    try:
        if _read_vector_fast(pj.ByteVector(probe)) == probe:
            return _read_vector_fast
    except (ValueError, TypeError, OverflowError):
        pass
    return _read_vector_slow  # another C++ runtime: correct, just slower


read_vector = _pick_vector_reader()


def pcm_format() -> pj.MediaFormatAudio:
    """8 kHz, 16-bit mono, 20 ms frames: the conference bridge's own format (no resampling)."""
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.id = pj.PJMEDIA_FORMAT_PCM
    fmt.clockRate = SAMPLE_RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = FRAME_MSEC * 1000
    fmt.avgBps = fmt.maxBps = SAMPLE_RATE * 16
    return fmt


@dataclass(frozen=True)
class PortSink:
    """Where a port's audio goes and comes from while it serves one call.

    Parameters:
        outgoing: The call's queued audio, taken one frame per clock tick.
        on_frame: Gets each received 20 ms frame.
        on_marks: Gets the playback marks the sent audio reached.
    """

    outgoing: OutgoingAudio
    on_frame: Callable[[bytes], None]
    on_marks: Callable[[list[str]], None]


class CallAudioPort(pj.AudioMediaPort):
    """Exchanges one call's audio with Python, driven by PJSIP's media clock thread.

    Received frames (decoded, after the jitter buffer) go to the sink's
    ``on_frame``; outgoing frames come from its :class:`OutgoingAudio`, silence
    when that is empty or the port is idle. Both run on the clock thread and must
    only hand work off (never block, never call PJSIP).
    """

    def __init__(self) -> None:
        """An idle port; :meth:`createPort` (on the PJSIP thread) registers it."""
        super().__init__()
        self.sink: PortSink | None = None

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2's name)
        """The clock wants 20 ms to send."""
        sink = self.sink
        pcm, marks = sink.outgoing.take() if sink else (None, [])
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(pcm or SILENCE)
        frame.size = FRAME_BYTES
        if marks and sink:
            sink.on_marks(marks)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2's name)
        """The clock delivers 20 ms heard from the far end."""
        sink = self.sink
        if sink is None or frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
            return
        sink.on_frame(read_vector(frame.buf))


class PortPool:
    """Audio ports kept for reuse, never destroyed while the library runs.

    Since PJSIP 2.15.1 the conference bridge removes ports asynchronously, on its
    clock thread; deleting a pjsua2 ``AudioMediaPort`` frees memory the bridge may
    still read (pjproject#3928, #4200). Reusing ports sidesteps that, and saves a
    port creation per call. Only the PJSIP thread uses the pool.
    """

    def __init__(self) -> None:
        """Start with no ports."""
        self._idle: list[CallAudioPort] = []
        self._all: list[CallAudioPort] = []

    @property
    def size(self) -> int:
        """Ports created so far (the most calls held at once)."""
        return len(self._all)

    def acquire(self, sink: PortSink) -> CallAudioPort:
        """A port serving ``sink``."""
        if self._idle:
            port = self._idle.pop()
        else:
            port = CallAudioPort()
            port.createPort(f"call{len(self._all)}", pcm_format())
            port.thisown = False  # the C++ port outlives Python's reference: see above
            self._all.append(port)
        port.sink = sink
        return port

    def release(self, port: CallAudioPort) -> None:
        """Take the port back (its call's stream is gone, so is every connection to it)."""
        port.sink = None
        self._idle.append(port)
