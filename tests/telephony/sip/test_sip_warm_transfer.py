"""A warm transfer over SIP: consult the agent, whisper to them alone, bridge them to the caller."""

from __future__ import annotations

import asyncio
import wave

from agent.tool_config import TransferDestination
from telephony.sip.events import EndReason
from telephony.sip.leg import SipLeg
from tests.fakes.sip_phone import SipPhone
from tests.telephony.sip.conftest import Switchboard, dominant_hz, tone


def tones_heard(path, rate_window: float = 0.1) -> list[int]:
    """The strongest frequency of each 100 ms of a recording (0 for silence), rounded to 10 Hz."""
    with wave.open(str(path)) as wav:
        pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    step = int(rate * rate_window) * 2
    return [
        round(dominant_hz(pcm[i : i + step], rate), -1) for i in range(0, len(pcm) - step, step)
    ]


async def test_the_agent_hears_the_whisper_alone_then_caller_and_agent_hear_each_other(
    sip: Switchboard, caller_phone: SipPhone, agent_phone: SipPhone, workdir
):
    caller_heard, agent_heard = workdir / "caller.wav", workdir / "agent.wav"
    await caller_phone.send("record", path=str(caller_heard))
    await agent_phone.send("record", path=str(agent_heard))
    seen = len(caller_phone.events)
    await caller_phone.send("call", uri=sip.uri("1000"))
    index = (await caller_phone.wait_for("state", after=seen))["call"]
    leg = SipLeg(await sip.answer(), engine=lambda: sip.engine)

    person = await leg.consult(TransferDestination(type="sip", sipUri=agent_phone.uri))
    await leg.whisper(person, tone(1000, 0.6))  # the summary: the agent's ears only
    await leg.connect(person)
    await leg.hang_up()  # the AI leaves: the bridged call goes on
    await asyncio.sleep(1.0)
    await caller_phone.send("stop_record")
    await agent_phone.send("stop_record")
    await caller_phone.send("hangup", call=index)
    person_end = await asyncio.wait_for(person.ended, 10)

    caller, agent = tones_heard(caller_heard), tones_heard(agent_heard)
    assert 1000 not in caller, "the caller never heard the whisper"
    assert caller.count(880) >= 5, "then the caller heard the agent's phone"
    assert agent.count(1000) >= 4 and agent.count(440) >= 5, "the whisper, then the caller"
    assert agent.index(1000) < len(agent) - 1 - agent[::-1].index(440)
    assert leg.call.ended.result().reason is EndReason.REMOTE_BYE
    assert person_end.reason is EndReason.LOCAL_HANGUP, "the caller's BYE ended the agent's leg"
