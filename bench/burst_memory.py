"""Benchmark: does memory come back after a burst of calls? RSS before, after one burst, after two.

    python bench/burst_memory.py --calls 8 --turns 2 [--arena-max 0] [--max-calls 64]

Starts its own server (SQLite, the fake LLM, the real speech models) from this checkout,
places one call to warm it up, then two bursts of ``--calls`` simultaneous simulated Twilio
calls of ``--turns`` lines each. After each burst it waits for every call to be finalized
and for ``/healthz`` to count no live call, lets the server settle for ``--settle`` seconds,
and reads the server's resident memory (``/proc/<pid>/status``: VmRSS, and VmHWM, the
peak), and the callers' voice-to-voice p50/p95 in each burst. ``--arena-max 0`` runs with
glibc's default malloc arenas (as before the cap).
The numbers are noisy where other work shares the machine: run it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.simulator import CallSimulator  # noqa: E402
from telephony.simulator.caller_audio import speech_ulaw  # noqa: E402
from tests.conftest import ROOT, start_server  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from voice.latency import percentile  # noqa: E402

LINES = ["Hi, I would like to book an appointment for next Tuesday.", "Yes, ten is fine."]


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


async def one_call(url: str, turns: int, audio: list[bytes], heard: list[float]) -> bool:
    """One simulated call; its caller-side voice-to-voice times (ms) go to ``heard``."""
    try:
        async with CallSimulator(url) as call:
            await call.wait_for_bot(timeout=90)
            for i in range(turns):
                turn = await call.say(
                    audio[i % len(audio)], LINES[i % len(LINES)], reply_timeout=90
                )
                if turn.voice_to_voice_ms is not None:
                    heard.append(turn.voice_to_voice_ms)
        return True
    except Exception as e:  # a failed call is counted, not fatal
        print(f"  a call failed: {e!r}", file=sys.stderr)
        return False


async def settled(url: str, settle: float, timeout: float = 180.0) -> None:
    """Until no call is held (live or finalizing), then ``settle`` seconds more."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(url + "/healthz") as response:
                health = await response.json()
            if not health["liveCalls"] and not health.get("finishingCalls"):
                break
            await asyncio.sleep(0.5)
    await asyncio.sleep(settle)


async def burst(url: str, calls: int, turns: int, audio: list[bytes]) -> tuple[int, str]:
    """Calls ok, and the caller-side voice-to-voice p50/p95 (ms) of the burst."""
    heard: list[float] = []
    done = await asyncio.gather(*(one_call(url, turns, audio, heard) for _ in range(calls)))
    if not heard:
        return sum(done), "-"
    return sum(done), f"{percentile(heard, 50):.0f}/{percentile(heard, 95):.0f}"


async def main(args: argparse.Namespace) -> None:
    audio = [speech_ulaw(line) for line in LINES]
    llm = await FakeOpenAI().start()
    tmp = Path(tempfile.mkdtemp(prefix="burst-memory-"))
    server = await start_server(
        tmp,
        DATABASE_URL=f"sqlite:///{tmp / 'calls.db'}",
        LLM_BASE_URL=llm.url,
        LLM_API_KEY="bench",
        ASSISTANTS_DIR=str(ROOT / "assistants"),
        LOG_LEVEL="INFO",
        MAX_CALLS=str(args.max_calls),
        MALLOC_ARENA_MAX=str(args.arena_max),
        DIALER_ENABLED="false",
    )
    pid, rows = server.process.pid, []
    try:
        rows.append(("started", 0, "", memory_mb(pid)))
        ok, heard = await burst(server.url, 1, 1, audio)
        await settled(server.url, args.settle)
        rows.append(("after 1 warm-up call", ok, heard, memory_mb(pid)))
        for n in (1, 2):
            ok, heard = await burst(server.url, args.calls, args.turns, audio)
            await settled(server.url, args.settle)
            rows.append((f"after burst {n} ({args.calls} calls)", ok, heard, memory_mb(pid)))
    finally:
        server.stop()
        await llm.stop()
    arenas = args.arena_max or "glibc default"
    print(f"\nRSS of the server (MALLOC_ARENA_MAX={arenas}, {args.turns} lines per call)")
    print(f"{'when':34} {'calls ok':>8} {'v2v p50/p95':>12} {'RSS MB':>8} {'peak MB':>8}")
    for when, ok, heard, mb in rows:
        print(f"{when:34} {ok:>8} {heard:>12} {mb['VmRSS']:>8} {mb['VmHWM']:>8}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8, help="calls in each burst")
    parser.add_argument("--turns", type=int, default=2, help="caller lines per call")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after a burst")
    parser.add_argument("--max-calls", type=int, default=64, help="MAX_CALLS (above --calls)")
    parser.add_argument(
        "--arena-max", type=int, default=2, help="MALLOC_ARENA_MAX (0: glibc's default)"
    )
    asyncio.run(main(parser.parse_args()))
