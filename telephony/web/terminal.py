"""``phoneagent-call --mic``: talk to an assistant from a sound card, over the Talk socket."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from types import ModuleType

import aiohttp
import numpy as np
import soxr

from telephony.web.serializer import INPUT_RATE

FRAME_SECS = 0.02


class NoSoundCard(RuntimeError):
    """The terminal cannot record or play sound; the message says what to install or plug in."""


def sound_device() -> ModuleType:
    """The ``sounddevice`` module, once a microphone and a speaker answer.

    Raises:
        NoSoundCard: The package or PortAudio is missing, or there is no device.
    """
    try:
        import sounddevice  # noqa: PLC0415 (optional: only --mic needs it)
    except (ImportError, OSError) as e:
        raise NoSoundCard(
            "--mic needs the sounddevice package and PortAudio: `.venv/bin/pip install "
            f"sounddevice` and `apt-get install libportaudio2` ({e.__class__.__name__}: {e})"
        ) from None
    try:
        sounddevice.query_devices(kind="input")
        sounddevice.query_devices(kind="output")
    except (sounddevice.PortAudioError, ValueError) as e:
        raise NoSoundCard(f"no sound card to talk with: {e}") from None
    return sounddevice


class Playback:
    """The assistant's audio as the speaker plays it: PCM and marks, pulled by the sound card.

    :meth:`pull` runs on the sound card's thread; a mark is reported (``on_mark``, from
    that thread) once all audio queued before it has been pulled, and :meth:`clear` (a
    barge-in) drops what is queued, marks included: they were never heard.
    """

    def __init__(self, on_mark: Callable[[str], None]):
        """Report marks to ``on_mark``."""
        self._items: deque[bytes | str] = deque()
        self._lock = threading.Lock()
        self._on_mark = on_mark

    def add_audio(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM (at the speaker's rate)."""
        with self._lock:
            self._items.append(pcm)

    def add_mark(self, name: str) -> None:
        """Queue a mark after the audio queued so far."""
        with self._lock:
            self._items.append(name)

    def clear(self) -> None:
        """Drop everything queued."""
        with self._lock:
            self._items.clear()

    def pull(self, samples: int) -> bytes:
        """The next ``samples`` samples to play (silence when nothing is queued)."""
        out, marks = bytearray(), []
        with self._lock:
            while len(out) < 2 * samples and self._items:
                item = self._items[0]
                if isinstance(item, str):
                    marks.append(self._items.popleft())
                    continue
                take = 2 * samples - len(out)
                out += item[:take]
                if take >= len(item):
                    self._items.popleft()
                else:
                    self._items[0] = item[take:]
            while self._items and isinstance(self._items[0], str):
                marks.append(self._items.popleft())
        for name in marks:
            self._on_mark(name)
        return bytes(out.ljust(2 * samples, b"\x00"))


def _resample(pcm: bytes, rate: int, wanted: int) -> bytes:
    if rate == wanted:
        return pcm
    samples = soxr.resample(np.frombuffer(pcm, dtype="<i2"), rate, wanted)
    return samples.astype("<i2").tobytes()


async def talk(server: str, api_key: str, assistant: str) -> str:
    """Hold a call with ``assistant`` until it ends or Ctrl-C; returns the call id.

    Raises:
        NoSoundCard: No way to record or play sound here.
        aiohttp.ClientError: The server refused or could not be reached.
    """
    sd = sound_device()
    loop = asyncio.get_running_loop()
    url = f"{server.rstrip('/')}/api/assistants/{assistant}/talk"
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        start = await ws.receive_json()
        print(f"Talking to {assistant} (call {start['callId']}); Ctrl-C hangs up.")
        mic: asyncio.Queue[bytes] = asyncio.Queue(maxsize=100)

        def marked(name: str) -> None:
            loop.call_soon_threadsafe(
                lambda: asyncio.ensure_future(ws.send_json({"type": "mark", "name": name}))
            )

        playback = Playback(marked)
        in_rate = int(sd.query_devices(kind="input")["default_samplerate"])
        out_rate = int(sd.query_devices(kind="output")["default_samplerate"])
        resampler = soxr.ResampleStream(in_rate, INPUT_RATE, 1, dtype="int16")

        def heard(indata, _frames, _time, _status) -> None:
            pcm = resampler.resample_chunk(np.frombuffer(bytes(indata), dtype="<i2")).tobytes()
            loop.call_soon_threadsafe(lambda: mic.full() or mic.put_nowait(pcm))

        def speak(outdata, frames, _time, _status) -> None:
            outdata[:] = playback.pull(frames)

        block_in, block_out = int(in_rate * FRAME_SECS), int(out_rate * FRAME_SECS)
        with (
            sd.RawInputStream(in_rate, block_in, channels=1, dtype="int16", callback=heard),
            sd.RawOutputStream(out_rate, block_out, channels=1, dtype="int16", callback=speak),
        ):
            sending = asyncio.create_task(_send_microphone(ws, mic))
            try:
                await _receive(ws, playback, start["outputRate"], out_rate)
            except (asyncio.CancelledError, KeyboardInterrupt):
                if not ws.closed:
                    await ws.send_json({"type": "hangup"})
                    await ws.receive()  # the server closes once the call is finalized
            finally:
                sending.cancel()
        return start["callId"]


async def _send_microphone(ws: aiohttp.ClientWebSocketResponse, mic: asyncio.Queue[bytes]) -> None:
    while not ws.closed:
        await ws.send_bytes(await mic.get())


async def _receive(
    ws: aiohttp.ClientWebSocketResponse, playback: Playback, rate: int, speaker_rate: int
) -> None:
    """Play the assistant, honour marks and clears, print the transcript, until the call ends."""
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            playback.add_audio(_resample(message.data, rate, speaker_rate))
        elif message.type == aiohttp.WSMsgType.TEXT:
            event = message.json()
            if event["type"] == "mark":
                playback.add_mark(event["name"])
            elif event["type"] == "clear":
                playback.clear()
            elif event["type"] == "transcript":
                who = "you" if event["role"] == "user" else "assistant"
                print(f"  {who:>9}: {event['text']}{' [cut off]' if event['interrupted'] else ''}")
            elif event["type"] == "end":
                print(f"  (call ended: {event['reason']})")
