"""Latency figures: stages from pipecat's breakdown, and percentiles."""

from __future__ import annotations

from pipecat.observers.user_bot_latency_observer import (
    LatencyBreakdown,
    LatencyContribution,
    MeasuredFrom,
)

from voice.latency import call_latency_summary, percentile, turn_latency


def part(key: str, secs: float) -> LatencyContribution:
    return LatencyContribution(
        key=key, label=key, owner="x", owner_kind="service", start_time=0, duration_secs=secs
    )


def test_turn_latency_groups_pipecat_contributions():
    breakdown = LatencyBreakdown(
        contributions=[
            part("endpointing_wait", 0.2),
            part("transcription", 0.3),
            part("turn_detection", 0.05),
            part("llm_inference", 0.4),
            part("speech_synthesis", 0.1),
            part("pipeline", 0.01),
        ],
        total_secs=1.06,
        measured_from=MeasuredFrom.USER_SILENCE,
    )
    turn = turn_latency(breakdown)
    assert (
        turn["end_of_speech_ms"] == 250.0
        and turn["stt_ms"] == 300.0
        and turn["llm_ttft_ms"] == 400.0
    )
    assert turn["tts_first_audio_ms"] == 100.0 and turn["pipeline_ms"] == 10.0
    assert turn["voice_to_voice_ms"] == 1060.0 and turn["kind"] == "turn"


def test_percentiles_and_summary():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    turns = [{"kind": "greeting", "voice_to_voice_ms": 150.0}] + [
        {"kind": "turn", "voice_to_voice_ms": float(v), "stt_ms": 100.0} for v in (800, 900, 1000)
    ]
    summary = call_latency_summary(turns)
    assert summary["greeting_ms"] == 150.0 and summary["turns"] == 3
    assert summary["voice_to_voice_p50_ms"] == 900.0 and summary["stt_p50_ms"] == 100.0
