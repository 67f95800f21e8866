"""Benchmark: SIP calls held at once with audio flowing both ways, and the CPU each one costs.

    python bench/sip.py [--calls 1 2 4 8] [--secs 10]

For each count, SIPp places that many calls at once to our engine (in this process),
each streaming a tone as PCMU; every answered call echoes what it hears back, so
audio crosses Python both ways (PJSIP clock thread -> loop -> PJSIP clock thread).
It prints the calls held, this process's CPU (PJSIP's threads included) per call,
and how much of the expected audio arrived (50 frames a second per call). SIPp's
own CPU is not counted. Note ``uptime``: on a shared machine the numbers are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from loguru import logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.sip.call import SipCall  # noqa: E402
from telephony.sip.engine import SipEngine  # noqa: E402
from telephony.sip.invite import IncomingInvite  # noqa: E402
from telephony.sip.settings import SipSettings  # noqa: E402
from tests.fakes.sipp import run_sipp, write_mulaw_wav  # noqa: E402


class EchoCalls:
    """Answers every call and echoes its audio back, counting frames."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.live: set[str] = set()
        self.peak = 0

    async def on_invite(self, invite: IncomingInvite) -> None:
        call = await invite.accept()
        self.live.add(call.id)
        self.peak = max(self.peak, len(self.live))
        asyncio.get_running_loop().create_task(self._echo(call))

    async def _echo(self, call: SipCall) -> None:
        self.frames[call.id] = 0
        async for frame in call.audio():
            self.frames[call.id] += 1
            call.send_audio(frame)
        self.live.discard(call.id)


def _cpu_secs() -> float:
    times = os.times()
    return times.user + times.system


async def measure(engine: SipEngine, echo: EchoCalls, calls: int, secs: float, folder: Path):
    """Hold ``calls`` calls for ``secs``; returns (held, cpu % in the steady part, audio ratio)."""
    echo.frames.clear()
    echo.peak = 0
    wav = write_mulaw_wav(
        folder / "tone.wav", np.sin(2 * np.pi * 700 * np.arange(8000 * 4) / 8000) * 8000
    )
    run = asyncio.create_task(
        run_sipp(
            "uac_tone",
            engine.address(),
            folder,
            calls=calls,
            rate=max(calls, 10),
            timeout=secs + 30,
            values={"TONE_WAV": str(wav), "HOLD_MS": str(int(secs * 1000))},
        )
    )
    await asyncio.sleep(2.0)  # calls set up
    cpu, wall = _cpu_secs(), time.monotonic()
    await asyncio.sleep(max(1.0, secs - 3.0))
    cpu_pct = 100 * (_cpu_secs() - cpu) / (time.monotonic() - wall)
    result = await run
    if not result.ok:
        print(f"  SIPp: {result.errors[-300:]}")
    held = echo.peak
    expected = held * secs * 50
    ratio = sum(echo.frames.values()) / expected if expected else 0.0
    return held, cpu_pct, ratio


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--secs", type=float, default=10.0)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    echo = EchoCalls()
    engine = SipEngine(SipSettings(host="127.0.0.1", port=0, max_calls=1000), echo.on_invite)
    await engine.start()
    print(f"load average: {os.getloadavg()}, cores: {os.cpu_count()}")
    print(f"engine capacity (calls held at once): {engine.capacity}")
    cpu, wall = _cpu_secs(), time.monotonic()
    await asyncio.sleep(3)
    idle = 100 * (_cpu_secs() - cpu) / (time.monotonic() - wall)
    print(f"idle engine: {idle:.1f}% of a core")
    print("calls asked  held  cpu%(one core)  cpu%/call  audio received")
    with tempfile.TemporaryDirectory() as folder:
        for calls in args.calls:
            held, cpu_pct, ratio = await measure(engine, echo, calls, args.secs, Path(folder))
            per_call = (cpu_pct - idle) / held if held else 0.0
            print(f"{calls:11d}  {held:4d}  {cpu_pct:14.1f}  {per_call:9.2f}  {ratio:14.1%}")
    await engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
