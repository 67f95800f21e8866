"""Twenty SIPp calls at once: those the engine holds carry audio, the rest get 503 + Retry-After."""

from __future__ import annotations

import asyncio

from telephony.sip.events import EndReason
from tests.fakes.sipp import run_sipp
from tests.telephony.sip.conftest import Switchboard, collect_audio, dominant_hz

CALLS = 20


async def test_twenty_calls_at_once_are_held_up_to_capacity_and_all_end_cleanly(
    sip: Switchboard, workdir, tone_wav
):
    held = min(CALLS, sip.engine.capacity)
    run = asyncio.create_task(
        run_sipp(
            "uac_tone",
            sip.address,
            workdir,
            calls=CALLS,
            rate=CALLS,
            values={"TONE_WAV": str(tone_wav), "HOLD_MS": "3000"},
        )
    )
    calls = [await sip.answer() for _ in range(held)]
    held_at_once = len(sip.engine.calls)
    heard = await asyncio.gather(*(collect_audio(call, 10) for call in calls))
    result = await run

    assert result.ok, result.errors  # each call was answered and hung up, or refused with 503
    assert held_at_once == held
    assert all(call.ended.result().reason is EndReason.REMOTE_BYE for call in calls)
    assert all(abs(dominant_hz(audio[-8000:]) - 700) < 10 for audio in heard)
    refused = result.messages.count("SIP/2.0 503 Call Limit Reached")
    assert refused == CALLS - held and result.messages.count("Retry-After: 10") == refused
    assert "SIP/2.0 486" not in result.messages
    assert not sip.engine.calls and sip.invites.empty()
