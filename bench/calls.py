"""Benchmark: N simulated calls against a running server; prints latency percentiles and memory.

    python bench/calls.py --server http://127.0.0.1:8080 --calls 10 --concurrency 1 [--sip]

Caller-side figures come from the simulator (what a phone caller would feel);
per-stage figures come from the server's own per-turn breakdown (GET /api/calls/{id}).
With ``--sip`` the same calls are then placed over SIP, each from a PJSIP test phone
(``tests/fakes/sip_phone.py``) playing the same lines, and both tables are printed:
SIP's caller-side voice-to-voice is measured on the phone's media clock (the line's
last frame to the first frame of the answer heard), and the table says how many SIP
calls the server held at once (its PJSIP build caps them: ``capacity`` in /healthz).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.simulator import CallSimulator  # noqa: E402
from telephony.simulator.caller_audio import speech_ulaw  # noqa: E402
from tests.e2e.sip_rig import PhoneCall, sip_uri, speech_wav  # noqa: E402
from tests.fakes.sip_phone import SipPhone  # noqa: E402
from voice.latency import percentile  # noqa: E402

LINES = [
    "Hi, I would like to book an appointment for next Tuesday.",
    "Do you have anything in the morning?",
    "Great, please book it for ten o'clock.",
    "My name is John Smith.",
    "Thank you, that's all.",
]
BARGE_IN = "Wait, sorry, one more thing."
STAGES = [
    ("end of speech (VAD + turn)", "end_of_speech_ms"),
    ("STT", "stt_ms"),
    ("LLM first token", "llm_ttft_ms"),
    ("sentence aggregation", "sentence_ms"),
    ("TTS first audio", "tts_first_audio_ms"),
    ("server voice-to-voice", "voice_to_voice_ms"),
]


async def health(http: aiohttp.ClientSession, server: str) -> dict:
    async with http.get(f"{server}/healthz") as response:
        return await response.json()


async def one_call(
    server: str,
    api_key: str,
    turns: int,
    auth_token: str,
    audio: list[bytes],
    barge_in: bytes | None = None,
) -> dict:
    result: dict = {"caller_v2v": [], "server_turns": [], "greeting_caller": None, "unanswered": 0}
    async with CallSimulator(server, auth_token=auth_token) as call:
        await call.wait_for_bot(timeout=60)
        result["greeting_caller"] = call.greeting_ms
        for i in range(turns):
            turn = await call.say(audio[i % len(audio)], LINES[i % len(LINES)], reply_timeout=60)
            if turn.voice_to_voice_ms is None:
                result["unanswered"] += 1
            else:
                result["caller_v2v"].append(turn.voice_to_voice_ms)
                result.setdefault("lines", []).append((turn.voice_to_voice_ms, i))
        result["gaps_ms"] = [gap * 1000 for gap in call.playout_gaps]
        if barge_in is not None:  # one more line, and talk over its answer 1 s into it
            await call.speak(audio[0])
            while not call.bot_speaking:
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)
            result["clear_ms"] = (await call.barge_in(barge_in, BARGE_IN)).clear_ms
            await call.wait_for_bot(timeout=60)
        result["call_id"] = call.call_id
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession() as http:
        for _ in range(40):
            async with http.get(f"{server}/api/calls/{call.call_id}", headers=headers) as response:
                body = await response.json()
            if body.get("endedAt"):
                break
            await asyncio.sleep(0.25)
    per_turn = (body.get("latency") or {}).get("per_turn", [])
    result["server_turns"] = [t for t in per_turn if t.get("kind") == "turn"]
    greeting = [t for t in per_turn if t.get("kind") == "greeting"]
    result["greeting_server"] = greeting[0]["voice_to_voice_ms"] if greeting else None
    return result


async def one_sip_call(server: str, api_key: str, turns: int, phone: SipPhone, wavs: list[Path]):
    """One call from a PJSIP phone over SIP; the same result shape as :func:`one_call`."""
    result: dict = {"caller_v2v": [], "server_turns": [], "greeting_caller": None, "unanswered": 0}
    _, address = (await sip_uri_of(server)).split("@", 1)
    call = await PhoneCall.dial(phone, f"sip:+15555550199@{address}")
    await call.heard_bot_finish(timeout=60)
    first = call.first_sound_frame()  # frames since the call's audio started
    result["greeting_caller"] = first * 20.0 if first is not None else None
    for i in range(turns):
        v2v = await call.turn(wavs[i % len(wavs)])
        if v2v is None:
            result["unanswered"] += 1
        else:
            result["caller_v2v"].append(v2v)
    await call.hang_up()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{server}/api/calls?limit=50") as response:
            listed = (await response.json())["data"]
        call_id = next(c["id"] for c in listed if c["providerCallId"] == call.sip_call_id)
        for _ in range(40):
            async with http.get(f"{server}/api/calls/{call_id}") as response:
                body = await response.json()
            if body.get("endedAt"):
                break
            await asyncio.sleep(0.25)
    per_turn = (body.get("latency") or {}).get("per_turn", [])
    result["server_turns"] = [t for t in per_turn if t.get("kind") == "turn"]
    greeting = [t for t in per_turn if t.get("kind") == "greeting"]
    result["greeting_server"] = greeting[0]["voice_to_voice_ms"] if greeting else None
    return result


async def sip_uri_of(server: str) -> str:
    class _Server:  # what sip_uri needs of a test server
        url = server
        api_key = ""

        async def get_json(self, path: str) -> tuple[int, dict]:
            async with aiohttp.ClientSession() as http:
                async with http.get(server + path) as response:
                    return response.status, await response.json()

    return await sip_uri(_Server(), "x")  # type: ignore[arg-type]


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<30} {'-':>8} {'-':>8} {'-':>8} {0:>5}"
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"  {label:<30} {p50:>8.0f} {p95:>8.0f} {max(values):>8.0f} {len(values):>5}"


async def main(args: argparse.Namespace) -> None:
    server = args.server.rstrip("/")
    audio = [speech_ulaw(line) for line in LINES]
    barge_in = speech_ulaw(BARGE_IN) if args.barge_in else None
    print("Warming up with one call (model arenas are allocated on first use)...")
    await one_call(server, args.api_key, 1, args.auth_token, audio)

    async def twilio_call() -> dict:
        return await one_call(server, args.api_key, args.turns, args.auth_token, audio, barge_in)

    await run_calls("Twilio Media Streams (simulator)", twilio_call, args)
    if not args.sip:
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    wavs = [speech_wav(folder, f"line{i}", line) for i, line in enumerate(LINES)]
    phones = await asyncio.gather(
        *(SipPhone(user=f"bench{i}").start() for i in range(args.concurrency))
    )
    free = asyncio.Queue()
    for phone in phones:
        free.put_nowait(phone)

    async def sip_call() -> dict:
        phone = await free.get()
        try:
            return await one_sip_call(server, args.api_key, args.turns, phone, wavs)
        finally:
            free.put_nowait(phone)

    try:
        await run_calls("SIP (PJSIP phone, G.711)", sip_call, args)
    finally:
        await asyncio.gather(*(phone.stop() for phone in phones))


async def run_calls(title: str, place, args: argparse.Namespace) -> None:
    """Place ``args.calls`` calls, ``args.concurrency`` at a time; print the table."""
    server = args.server.rstrip("/")
    async with aiohttp.ClientSession() as http:
        before = await health(http, server)
    started = time.monotonic()
    results: list[dict] = []
    peak_memory = before.get("memoryMb") or 0.0
    peak_sip = 0
    loop_lags: list[tuple[float, float]] = []
    semaphore = asyncio.Semaphore(args.concurrency)

    async def guarded(index: int) -> None:
        await asyncio.sleep(min(index, args.concurrency - 1) * args.stagger)
        async with semaphore:
            results.append(await place())

    async def sample(stop: asyncio.Event) -> None:
        nonlocal peak_memory, peak_sip
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                now = await health(http, server)
                peak_memory = max(peak_memory, now.get("memoryMb") or 0.0)
                peak_sip = max(peak_sip, (now.get("sip") or {}).get("calls") or 0)
                lag = now.get("loopLag") or {}
                if lag.get("maxMs") is not None:
                    loop_lags.append((lag["p99Ms"], lag["maxMs"]))
                await asyncio.sleep(0.5)

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop))
    await asyncio.gather(*(guarded(i) for i in range(args.calls)))
    stop.set()
    await sampler
    elapsed = time.monotonic() - started

    caller = [v for r in results for v in r["caller_v2v"]]
    turns = [t for r in results for t in r["server_turns"]]
    unanswered = sum(r["unanswered"] for r in results)
    print(
        f"\n{title}: {args.calls} calls x {args.turns} turns, {args.concurrency} at a time, "
        f"in {elapsed:.0f}s" + (f", starts {args.stagger:g}s apart" if args.stagger else "")
    )
    if peak_sip:
        capacity = (before.get("sip") or {}).get("capacity")
        print(f"  SIP calls held at once: {peak_sip} (capacity {capacity})")
    print(f"  {'figure (ms)':<30} {'p50':>8} {'p95':>8} {'max':>8} {'n':>5}")
    print(
        row(
            "greeting, caller-side", [r["greeting_caller"] for r in results if r["greeting_caller"]]
        )
    )
    print(
        row(
            "greeting, server-side",
            [r["greeting_server"] for r in results if r.get("greeting_server")],
        )
    )
    print(row("voice-to-voice, caller-side", caller))
    for label, key in STAGES:
        print(row(label, [t[key] for t in turns if t.get(key) is not None]))
    clears = [r["clear_ms"] for r in results if "clear_ms" in r]
    if clears:
        print(row("barge-in: first sound -> clear", [c for c in clears if c is not None]))
        print(f"  barge-ins never cleared: {sum(c is None for c in clears)}")
    print(f"  unanswered turns: {unanswered}")
    gaps = [g for r in results for g in r.get("gaps_ms", [])]
    if any("gaps_ms" in r for r in results):
        worst = "none"
        if gaps:
            with_gaps = [r for r in results if r.get("gaps_ms")]
            longest = max((max(r["gaps_ms"]), r.get("call_id")) for r in with_gaps)
            worst = f"{longest[0]:.0f} ms" + (f", call {longest[1]}" if longest[1] else "")
        print(
            f"  playout stalls inside replies: {len(gaps)} (longest {worst}; "
            f"{sum(g > 60 for g in gaps)} over 60 ms)"
        )
    if loop_lags:  # /healthz: how late the server's loop woke over the last 10 s
        print(
            f"  server event loop lateness, worst 10 s: p99 {max(p for p, _ in loop_lags):.0f} ms, "
            f"max {max(m for _, m in loop_lags):.0f} ms"
        )
    idle = before.get("memoryMb")
    if idle:
        extra = (peak_memory - idle) / max(1, args.concurrency)
        print(
            f"  server memory: idle (warm) {idle:.0f} MB, peak {peak_memory:.0f} MB "
            f"(+{extra:.0f} MB per concurrent call)"
        )
    if caller:
        print(f"  caller-side voice-to-voice mean {statistics.mean(caller):.0f} ms")
    turns_by_call = ((ms, i, r["call_id"]) for r in results for ms, i in r.get("lines", []))
    slowest = sorted(turns_by_call, reverse=True)[:3]
    for ms, i, call_id in slowest:
        print(f"  slow turn: {ms:.0f} ms, line {i + 1} {LINES[i % len(LINES)]!r}, call {call_id}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--stagger", type=float, default=0.0, help="seconds between the first calls' starts"
    )
    parser.add_argument(
        "--barge-in",
        action="store_true",
        help="after its turns, each call talks over an answer 1 s in: first sound -> clear",
    )
    parser.add_argument("--api-key", default=os.environ.get("API_KEY", ""))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", ""))
    parser.add_argument(
        "--sip", action="store_true", help="then the same calls over SIP, from PJSIP phones"
    )
    args = parser.parse_args()
    if not args.api_key and Path("data/api_key").exists():
        args.api_key = Path("data/api_key").read_text().strip()
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
