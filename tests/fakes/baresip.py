"""A baresip phone for tests: Debian's baresip 1.0.0 in its own config folder, driven over ctrl_tcp.

An independent SIP user agent (not PJSIP, which our server runs on), as a
caller or as a human's desk phone. What it says comes from ``aufile``: a WAV
played as its microphone (``say`` switches the file mid-call with ``/ausrc``;
the end of the file ends the call, so every line is padded with silence).
What it hears and what it sends are written by the ``sndfile`` filter to
``rec/dump-<time>-dec.wav`` and ``-enc.wav`` (8 kHz 16-bit), one pair a call,
named to the second (no audio player is loaded: nothing else hears it). Commands
(the ``menu`` module's: ``dial``, ``hangup``, ``sndcode`` for RFC 4733 digits,
``transfer``, ``ausrc``) and events (``CALL_INCOMING``, ``CALL_ESTABLISHED``,
``CALL_CLOSED``...) go over ``ctrl_tcp`` as netstrings of JSON. It follows a
REFER by itself (a new call to the Refer-To, with NOTIFYs back). On a
loopback-only machine baresip needs ``net_interface 127.0.0.1`` (an address:
``lo`` fails with "No such device"), or its SDP names an address that cannot be
reached.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.fakes.events import first_event

RATE = 8000
FRAME = 320  # bytes in 20 ms of 8 kHz 16-bit PCM
PADDING_SECS = 90  # silence after each line, so the file does not end the call
LOUD_RMS = 200.0  # a 20 ms frame louder than this is sound
MODULES = ("g711", "aufile", "sndfile", "ctrl_tcp")
MODULE_DIR = Path("/usr/lib/baresip/modules")
# What baresip holds back before playing (20 ms frames, min-max): a desk phone's 40-60 ms,
# where baresip's own default (5-10) adds 100-200 ms to everything the tests hear.
JITTER_BUFFER_FRAMES = "2-3"


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(type=kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_tcp_port() -> int:
    with socket.socket() as tcp:
        tcp.bind(("127.0.0.1", 0))
        return tcp.getsockname()[1]


def free_sip_port(avoid: int = 0) -> int:
    """A port for baresip's SIP: free for UDP and TCP, and the next one for TCP (its TLS)."""
    while True:
        port = free_tcp_port()
        if avoid not in (port, port + 1) and all(
            _free(p, kind)
            for p, kind in (
                (port, socket.SOCK_DGRAM),
                (port, socket.SOCK_STREAM),
                (port + 1, socket.SOCK_STREAM),
            )
        ):
            return port


def write_pcm_wav(path: Path, pcm: bytes) -> Path:
    """8 kHz mono 16-bit PCM as a WAV (what aufile plays)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


def read_growing_wav(path: Path) -> bytes:
    """The PCM of a WAV that may still be written (its header's sizes are not final yet)."""
    data = path.read_bytes()
    at = data.find(b"data", 12)
    return data[at + 8 :] if at >= 0 else b""


def levels(pcm: bytes) -> np.ndarray:
    """RMS of each 20 ms frame of 8 kHz 16-bit PCM."""
    count = len(pcm) // FRAME
    x = np.frombuffer(pcm[: count * FRAME], "<i2").astype(float).reshape(count, FRAME // 2)
    return np.sqrt((x**2).mean(axis=1)) if count else np.zeros(0)


class Baresip:
    """One baresip process on 127.0.0.1 with one account, and its control connection."""

    def __init__(self, folder: Path, user: str, *, auto_answer: bool = False):
        """Set up in ``folder`` (its own: config, accounts, recordings, log) as ``user``.

        ``auto_answer`` answers every call at once (``;answermode=auto``).
        """
        self.folder = folder
        self.user = user
        self.auto_answer = auto_answer
        self.events: list[dict] = []
        self.silence = write_pcm_wav(folder / "silence.wav", bytes(PADDING_SECS * RATE * 2))
        self._ctrl_port = free_tcp_port()
        self.port = free_sip_port(avoid=self._ctrl_port)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._responses: asyncio.Queue[dict] = asyncio.Queue()
        self._one_command = asyncio.Lock()  # responses come back in order, unlabelled
        self._changed = asyncio.Event()

    @property
    def uri(self) -> str:
        """This phone's address."""
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    @property
    def recordings(self) -> Path:
        return self.folder / "rec"

    def _write_config(self) -> None:
        self.recordings.mkdir(exist_ok=True)
        modules = "\n".join(f"module {name}.so" for name in MODULES)
        (self.folder / "config").write_text(
            f"poll_method epoll\n"
            f"sip_listen 127.0.0.1:{self.port}\n"
            f"net_interface 127.0.0.1\n"
            f"module_path {MODULE_DIR}\n{modules}\n"
            f"module_app account.so\nmodule_app menu.so\n"
            f"ctrl_tcp_listen 127.0.0.1:{self._ctrl_port}\n"
            f"audio_source aufile,{self.silence}\n"
            f"snd_path {self.recordings}\n"
            f"jitter_buffer_delay {JITTER_BUFFER_FRAMES}\n"
        )
        answer = ";answermode=auto" if self.auto_answer else ""
        (self.folder / "accounts").write_text(f"<sip:{self.user}@127.0.0.1>;regint=0{answer}\n")

    async def start(self) -> Baresip:
        """Start baresip and connect to its control port."""
        binary = shutil.which("baresip")
        if not binary:
            raise RuntimeError("baresip is not installed: make test-deps (Debian: baresip-core)")
        self._write_config()
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "-f",
            str(self.folder),
            "-v",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.folder / "baresip.log").open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self._ctrl_port)
                break
            except OSError:
                if self._process.returncode is not None:
                    raise RuntimeError(f"baresip exited: {self.log()[-2000:]}") from None
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"baresip's ctrl_tcp never listened: {self.log()[-2000:]}")
        self._reader = asyncio.create_task(self._read(reader))
        return self

    async def stop(self) -> None:
        """End the process."""
        if self._writer:
            self._writer.close()
        if self._reader:
            self._reader.cancel()
        if self._process and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    def log(self) -> str:
        return (self.folder / "baresip.log").read_text(errors="replace")

    async def command(self, name: str, params: str = "") -> str:
        """Run a baresip command (as typed after ``/``); returns its output."""
        assert self._writer
        body = json.dumps({"command": name, "params": params, "token": name}).encode()
        async with self._one_command:
            self._writer.write(b"%d:%s," % (len(body), body))
            await self._writer.drain()
            response = await asyncio.wait_for(self._responses.get(), 10)
        if not response.get("ok"):
            raise RuntimeError(f"baresip {name} {params}: {response.get('data')}")
        return response.get("data", "")

    async def wait_for(
        self, match: str | Callable[[dict], bool], *, after: int = 0, timeout: float = 15, **fields
    ) -> dict:
        """The first event (from index ``after``) of type ``match`` with ``fields``, or matching."""
        return await first_event(
            self.events,
            self._changed,
            match,
            kind="type",
            after=after,
            timeout=timeout,
            fields=fields,
        )

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                size = int((await reader.readuntil(b":"))[:-1])
                message = json.loads((await reader.readexactly(size + 1))[:-1])
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            if message.get("event"):
                self.events.append(message)
                self._changed.set()
            else:
                await self._responses.put(message)

    async def hang_up_all(self) -> None:
        """End every call this phone is on (a test that failed half-way leaves them)."""
        for _ in range(10):
            listed = await self.command("listcalls")
            if "Active calls (0)" in listed:
                return
            await self.command("hangup")
            await asyncio.sleep(0.2)

    async def say(self, wav: Path) -> None:
        """Play ``wav`` (8 kHz mono 16-bit) as the microphone from now on, then silence."""
        await self.command("ausrc", f"aufile,{self.padded(wav)}")

    def padded(self, wav: Path) -> Path:
        """``wav`` followed by silence enough for any test (a copy beside the recordings)."""
        with wave.open(str(wav)) as line:
            pcm = line.readframes(line.getnframes())
        path = self.folder / f"say-{wav.stem}.wav"
        return write_pcm_wav(path, pcm + bytes(PADDING_SECS * RATE * 2))

    def dumps(self, kind: str = "dec") -> list[Path]:
        """The recordings so far, oldest first (``dec``: heard; ``enc``: sent)."""
        return sorted(self.recordings.glob(f"dump-*-{kind}.wav"))

    def heard(self) -> bytes:
        """What the latest call heard so far (8 kHz 16-bit PCM)."""
        dumps = self.dumps()
        return read_growing_wav(dumps[-1]) if dumps else b""

    def sent(self) -> bytes:
        """What the latest call sent so far (8 kHz 16-bit PCM)."""
        dumps = self.dumps("enc")
        return read_growing_wav(dumps[-1]) if dumps else b""


class BaresipCall:
    """The call a baresip phone is on, followed through its events and its recordings."""

    def __init__(self, phone: Baresip, seen: int):
        self.phone = phone
        self.seen = seen

    @classmethod
    async def dial(cls, phone: Baresip, uri: str, timeout: float = 20) -> BaresipCall:
        """Have ``phone`` call ``uri`` (saying nothing yet) and wait until the call is up."""
        seen = len(phone.events)
        await phone.command("ausrc", f"aufile,{phone.silence}")
        await phone.command("dial", uri)
        await phone.wait_for("CALL_ESTABLISHED", after=seen, timeout=timeout)
        return cls(phone, seen)

    @classmethod
    async def incoming(cls, phone: Baresip, seen: int, timeout: float = 30) -> BaresipCall:
        """The call an auto-answering ``phone`` took (events from ``seen``)."""
        await phone.wait_for("CALL_ESTABLISHED", after=seen, timeout=timeout)
        return cls(phone, seen)

    def event(self, kind: str) -> dict | None:
        return next((e for e in self.phone.events[self.seen :] if e.get("type") == kind), None)

    async def hang_up(self) -> None:
        """BYE from the phone, and wait until the call is gone."""
        await self.phone.command("hangup")
        await self.closed()

    async def closed(self, timeout: float = 15) -> dict:
        """Wait until the call ended (either side); returns the event."""
        return await self.phone.wait_for("CALL_CLOSED", after=self.seen, timeout=timeout)

    async def heard_sound(self, *, after: int = 0, timeout: float = 30) -> int:
        """Wait until the phone hears sound at or after frame ``after``; returns its frame."""
        return await self._poll(lambda loud: _first(loud, after), timeout)

    async def heard_quiet(
        self, *, after: int = 0, quiet_secs: float = 1.2, timeout: float = 30
    ) -> int:
        """Wait until the phone heard sound after ``after`` then ``quiet_secs`` of silence.

        Returns the frame the silence began at (the end of a bot turn).
        """
        quiet = int(quiet_secs * 50)

        def ended(loud: np.ndarray) -> int | None:
            start = _first(loud, after)
            return None if start is None else _silent_run(loud, start, quiet)

        return await self._poll(ended, timeout)

    async def _poll(self, find: Callable[[np.ndarray], int | None], timeout: float) -> int:
        async def poll() -> int:
            while True:
                found = find(levels(self.phone.heard()) > LOUD_RMS)
                if found is not None:
                    return found
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(poll(), timeout)

    def frames_heard(self) -> int:
        return len(self.phone.heard()) // FRAME

    async def say(self, wav: Path) -> int:
        """Say a line; returns the frame of the heard timeline it was said at (about)."""
        at = self.frames_heard()
        await self.phone.say(wav)
        return at

    async def send_digits(self, digits: str) -> None:
        """Key ``digits`` (RFC 4733 telephone-events)."""
        await self.phone.command("sndcode", digits)

    def sent_onsets(self) -> list[int]:
        """The frames (of the heard timeline) where the caller's sent audio turned loud."""
        sent, heard = levels(self.phone.sent()), levels(self.phone.heard())
        offset = len(sent) - len(heard)  # both are written to the end; the heard one started later
        loud = sent > LOUD_RMS
        return [i - offset for i in range(1, len(loud)) if loud[i] and not loud[i - 1]]


def _first(loud: np.ndarray, after: int) -> int | None:
    hits = np.flatnonzero(loud[after:])
    return int(hits[0]) + after if len(hits) else None


def _silent_run(loud: np.ndarray, start: int, frames: int) -> int | None:
    """The first frame at or after ``start`` that begins ``frames`` quiet frames."""
    run = 0
    for i in range(start, len(loud)):
        run = 0 if loud[i] else run + 1
        if run == frames:
            return i - frames + 1
    return None
