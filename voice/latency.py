"""Per-turn latency: pipecat's breakdown reduced to the stages we report, and percentiles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipecat.observers.user_bot_latency_observer import LatencyBreakdown, MeasuredFrom

# Our stage names, and the pipecat contribution keys that make them up.
STAGES: dict[str, tuple[str, ...]] = {
    "end_of_speech_ms": ("endpointing_wait", "turn_detection"),
    "stt_ms": ("transcription",),
    "llm_ttft_ms": ("llm_inference", "first_request"),
    "sentence_ms": ("sentence_aggregation",),
    "tts_first_audio_ms": ("speech_synthesis", "text_to_speech"),
    "tools_ms": ("llm_tool_call", "function_handler"),
}


def turn_latency(breakdown: LatencyBreakdown) -> dict[str, Any]:
    """One turn's latency in milliseconds, by stage.

    ``voice_to_voice_ms`` is server-side: from the caller falling silent (VAD
    time, less its stop window) to the first bot audio leaving the server. For
    the greeting it runs from the stream connecting instead (``kind: greeting``).
    """
    stages = {name: 0.0 for name in STAGES}
    other = 0.0
    for part in breakdown.contributions:
        for name, keys in STAGES.items():
            if part.key in keys:
                stages[name] += part.duration_secs * 1000
                break
        else:
            other += part.duration_secs * 1000
    result: dict[str, Any] = {k: round(v, 1) for k, v in stages.items()}
    result["pipeline_ms"] = round(other, 1)
    result["voice_to_voice_ms"] = round(breakdown.total_secs * 1000, 1)
    result["kind"] = (
        "greeting" if breakdown.measured_from == MeasuredFrom.CLIENT_CONNECTED else "turn"
    )
    return result


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def call_latency_summary(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The call-level figures stored on the call: greeting, and p50/p95 per stage over turns."""
    greeting = next((t for t in turns if t.get("kind") == "greeting"), None)
    replies = [t for t in turns if t.get("kind") == "turn"]
    summary: dict[str, Any] = {
        "greeting_ms": greeting["voice_to_voice_ms"] if greeting else None,
        "turns": len(replies),
    }
    for stage in [*STAGES, "voice_to_voice_ms"]:
        values = [t[stage] for t in replies if t.get(stage) is not None]
        for q in (50, 95):
            value = percentile(values, q)
            summary[f"{stage.removesuffix('_ms')}_p{q}_ms"] = (
                round(value, 1) if value is not None else None
            )
    return summary
