"""SIPp (Debian's ``sip-tester``) as a SIP peer in tests: templated scenarios, run on 127.0.0.1.

Scenarios live in ``tests/fakes/sipp/*.xml`` with ``$NAME`` placeholders filled
in before the run (SIPp's own ``[field]`` keywords are not substituted inside
``<exec rtp_stream=...>``, so paths are written into the file). SIPp exits 0
only if every call followed the scenario exactly, so a scenario is its own
assertion on the status codes it expects.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

SCENARIOS = Path(__file__).resolve().parent / "sipp"
DTMF_PCAPS = Path("/usr/share/sip-tester")


def free_media_ports() -> int:
    """An even UDP port on 127.0.0.1 free with the three after it: SIPp's ``-mp`` binds
    audio RTP/RTCP there and video RTP/RTCP two ports up (one taken fails the whole run)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1] & ~1
        if base + 3 > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + 4):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(udp)
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for udp in sockets:
                udp.close()
        return base


def free_udp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIPp and SIP use both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def write_mulaw_wav(path: Path, pcm: np.ndarray, rate: int = 8000) -> Path:
    """Write int16 samples as a G.711 mu-law WAV (what SIPp's ``rtp_stream`` plays as PCMU)."""
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0)
    x = np.abs(x) + 0x84
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    mantissa = (x >> (exponent + 3)) & 0x0F
    data = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", 4)
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@dataclass
class SippRun:
    """A finished SIPp run."""

    returncode: int
    output: str
    errors: str
    messages: str

    @property
    def ok(self) -> bool:
        """Every call followed the scenario."""
        return self.returncode == 0


async def run_sipp(
    scenario: str,
    target: tuple[str, int] | None,
    workdir: Path,
    *,
    port: int = 0,
    calls: int = 1,
    rate: int = 10,
    transport: str = "u1",
    service: str = "1000",
    timeout: float = 30,
    values: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> SippRun:
    """Run ``tests/fakes/sipp/<scenario>.xml`` against ``target`` until its calls are done.

    Args:
        scenario: The scenario's file name without ``.xml``.
        target: Where to send (our engine's host and port); None for a scenario that
            waits for calls (a UAS) on ``port``.
        port: SIPp's own SIP port (0: a free one).
        workdir: A folder for the filled-in scenario and SIPp's logs.
        calls: How many calls to make, all at once (``-l calls``) at ``rate`` per second.
        transport: SIPp's ``-t`` (``u1`` UDP, ``t1`` TCP).
        service: The Request-URI user (``[service]``).
        values: ``$NAME`` placeholders to fill in.
        extra: More SIPp arguments.
    """
    sipp = shutil.which("sipp")
    assert sipp, "SIPp is missing: apt-get install sip-tester (make system-deps)"
    text = Template((SCENARIOS / f"{scenario}.xml").read_text()).substitute(values or {})
    path = workdir / f"{scenario}.xml"
    path.write_text(text)
    errors, messages = workdir / f"{scenario}.errors.log", workdir / f"{scenario}.messages.log"
    argv = [
        sipp, *([f"{target[0]}:{target[1]}"] if target else []), "-sf", str(path),
        "-t", transport, "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(port or free_udp_port()),
        "-mp", str(free_media_ports()), "-s", service, "-m", str(calls), "-l", str(calls),
        "-r", str(rate), "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-trace_err", "-error_file", str(errors), "-trace_msg", "-message_file", str(messages),
        *(extra or []),
    ]  # fmt: skip
    if target is None:
        argv.remove("-r")  # a UAS takes calls, it does not make them
        argv.remove(str(rate))
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return SippRun(
        returncode=process.returncode or 0,
        output=output.decode(errors="replace")[-4000:],
        errors=errors.read_text(errors="replace") if errors.exists() else "",
        messages=messages.read_text(errors="replace") if messages.exists() else "",
    )


async def wait_listening(port: int, timeout: float = 10) -> None:
    """Wait until something (SIPp as a UAS) has bound UDP ``port`` on 127.0.0.1."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"nothing listens on UDP {port}")
        await asyncio.sleep(0.05)
