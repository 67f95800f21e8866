"""Audio a carrier was sent ahead of playback: what a pause takes back, and the marks it voids."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice.frames import OutputPlaybackMarkFrame

# How much sent audio is remembered: the playout lead, the replay and some slack.
KEEP_SECS = 2.0


@dataclass
class _Sent:
    at: float  # when it starts playing (monotonic)
    item: bytes | OutputPlaybackMarkFrame  # a mark as sent (its wire name)
    rate: int = 0
    secs: float = 0.0


class SentAudio:
    """What went to a carrier that buffers (Twilio), on the playout clock we pace it by.

    The carrier plays what it is sent in real time; we send a little ahead. When the
    bot pauses, :meth:`take_back` says what the caller had not heard yet (from
    ``replay_secs`` before now): the audio from there on, and the marks due after now
    (the carrier returns those at once on ``clear``: they must not count as heard).
    """

    def __init__(self) -> None:
        """Nothing sent yet."""
        self._sent: deque[_Sent] = deque()

    def audio(self, at: float, pcm: bytes, rate: int) -> None:
        """``pcm`` (16-bit mono at ``rate``) was sent and plays from ``at``."""
        self._sent.append(_Sent(at, pcm, rate, len(pcm) / (2 * rate)))
        while self._sent and self._sent[0].at < at - KEEP_SECS:
            self._sent.popleft()

    def mark(self, at: float, mark: OutputPlaybackMarkFrame) -> None:
        """A mark was sent; the carrier reaches it at ``at``."""
        self._sent.append(_Sent(at, mark))

    def forget(self) -> None:
        """The carrier dropped everything (an interruption): nothing sent is left to play."""
        self._sent.clear()

    def take_back(self, now: float, replay_secs: float) -> list[bytes | OutputPlaybackMarkFrame]:
        """Forget everything sent; return what plays after ``now - replay_secs``, in order.

        Audio from that point on (if any was still playing at ``now``), and the marks due
        after ``now`` (as sent: the carrier may echo them, unplayed, on ``clear``).
        """
        audio = [sent for sent in self._sent if not isinstance(sent.item, OutputPlaybackMarkFrame)]
        # Nothing still playing: the pause cut nothing off, there is nothing to replay.
        cut = now - replay_secs if audio and audio[-1].at + audio[-1].secs > now else now
        again: list[bytes | OutputPlaybackMarkFrame] = []
        for sent in self._sent:
            if isinstance(sent.item, OutputPlaybackMarkFrame):
                if sent.at > now:
                    again.append(sent.item)
            elif sent.at + sent.secs > cut:
                skip = round(max(0.0, cut - sent.at) * sent.rate) * 2
                again.append(sent.item[skip:])
        self._sent.clear()
        return again


class MarkNames:
    """Names of marks across pauses: a mark voided by ``clear`` is sent again as a new name.

    The carrier may echo a voided mark (Twilio returns every pending mark on ``clear``);
    that echo is dropped, and the echo of the mark sent again is reported under the
    mark's own name.
    """

    def __init__(self) -> None:
        """No marks voided yet."""
        self._voided: set[str] = set()
        self._again: dict[str, str] = {}  # wire name -> the mark's own name
        self._count = 0

    def own(self, wire: str) -> str:
        """The mark's own name for a name it was sent as."""
        return self._again.get(wire, wire)

    def void(self, wire: str) -> None:
        """The mark sent as ``wire`` was dropped unplayed; ignore its echo."""
        self._voided.add(wire)
        self._again.pop(wire, None)

    def again(self, own: str) -> str:
        """A new wire name for the mark ``own`` sent again."""
        self._count += 1
        wire = f"{own}~{self._count}"
        self._again[wire] = own
        return wire

    def echoed(self, wire: str) -> str | None:
        """The carrier echoed ``wire``: the mark's own name, or None for a voided mark."""
        if wire in self._voided:
            self._voided.discard(wire)
            return None
        return self._again.pop(wire, wire)
