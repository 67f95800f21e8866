"""Recording a call: who may be recorded, the carrier's own recording, the file and the row."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from agent.assistant import Assistant
from agent.assistant_files import unknown_fields
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.models import Lead
from crm.recordings import LocalRecordings
from telephony.audio_tap import BotCut, CallAudioTap, TappedAudio
from telephony.carrier import CallLeg
from telephony.recorder import CallRecordings, refusal, start_recording


class Leg(CallLeg):
    """A carrier that records on its side, or not."""

    provider = "test"

    def __init__(self, records: bool):
        self.records = records

    def transport(self):
        raise NotImplementedError

    @property
    def far_end_hung_up(self) -> bool:
        return False

    async def hang_up(self) -> None:
        return None

    async def start_recording(self) -> None:
        if not self.records:
            await super().start_recording()  # NotSupported


def speech(secs: float, rate: int) -> bytes:
    t = np.arange(int(secs * rate)) / rate
    return (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2").tobytes()


def loud_secs(channel: np.ndarray) -> float:
    windows = channel[: len(channel) // 960 * 960].reshape(-1, 960) * 32768  # 20 ms at 48 kHz
    return float((np.sqrt((windows**2).mean(axis=1)) > 300).sum() * 0.02)


def test_the_assistant_and_the_lead_decide_whether_a_call_is_recorded():
    plain = Assistant.model_validate({"name": "a"})
    off = Assistant.model_validate({"name": "b", "artifactPlan": {"recordingEnabled": False}})
    assert refusal(plain, None) is None and refusal(plain, Lead(consent_recording=None)) is None
    assert "recordingEnabled" in refusal(off, None)
    assert "consentRecording" in refusal(plain, Lead(consent_recording=False))
    vapi = Assistant.model_validate(
        {"name": "c", "artifactPlan": {"recordingEnabled": True, "recordingFormat": "mp3"}}
    )
    assert unknown_fields(vapi) == ["$.artifactPlan.recordingFormat"], "only the rest is unused"


async def test_a_recorded_call_keeps_what_the_caller_heard(database: Database, tmp_path: Path):
    store = CallStore(database)
    call = await store.open(NewCall(provider="test", provider_call_id="rec-1"))
    storage = LocalRecordings(tmp_path)
    recordings = CallRecordings(storage, "https://agent.example.com/")
    assistant, tap = Assistant.model_validate({"name": "a"}), CallAudioTap(call.id)
    args = (recordings, store, call, assistant, None)
    assert await start_recording(*args, Leg(records=True), tap) is None, "the carrier keeps it"
    recorder = await start_recording(*args, Leg(records=False), tap)
    assert recorder is not None
    start = time.monotonic()
    recorder.on_audio(TappedAudio("caller", speech(1.0, 16000), 16000, start))
    recorder.on_audio(TappedAudio("bot", speech(1.0, 8000), 8000, start + 1.0))
    recorder.on_audio(BotCut(start + 1.3))  # the caller talked over it: 0.3 s were heard
    recorder.on_audio(TappedAudio("caller", speech(0.5, 16000), 16000, start + 1.3))
    await recorder.finish(store, ended_at=start + 1.8)

    row = await store.get(call.id)
    assert row.recording_url == f"https://agent.example.com/api/calls/{call.id}/recording"
    assert row.recording_key == recorder.key and row.recording_started_at is not None
    path = storage.path(row.recording_key)
    assert row.recording_bytes == path.stat().st_size > 0
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert row.recording_seconds == pytest.approx(samples.shape[1] / 48000, abs=0.05)
    assert row.recording_seconds == pytest.approx(1.8, abs=0.1)
    assert loud_secs(samples[0]) == pytest.approx(1.5, abs=0.1), "the caller, left"
    assert loud_secs(samples[1]) == pytest.approx(0.3, abs=0.06), "the bot until the cut, right"
