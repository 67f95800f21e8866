"""Which overflow a busy call gets: the assistant's overflowPlan over the server's settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from agent.assistant import Assistant
from telephony.overflow import OverflowDefaults, Overflows


def assistant(**fields) -> Assistant:
    return Assistant.model_validate({"name": "front-desk", **fields})


class Handover:
    async def twiml(self, call, entry) -> str:
        return "<Response/>"


def test_an_assistant_without_a_plan_gets_the_servers_callback_in_its_language():
    plan = Overflows(OverflowDefaults(callback_minutes=5)).plan(
        assistant(transcriber={"provider": "faster-whisper", "language": "es"})
    )
    assert plan.action == "callback" and plan.callback_delay == timedelta(minutes=5)
    assert "ocupadas" in plan.message and "devolveremos" in plan.message


def test_the_assistants_plan_wins_and_a_plan_that_cannot_work_falls_back_to_a_callback():
    servers = Overflows(OverflowDefaults(action="transfer", transfer_number="+14155550100"))
    plan = servers.plan(assistant())
    assert (plan.action, plan.destination.number) == ("transfer", "+14155550100")
    own = assistant(
        overflowPlan={
            "action": "transfer",
            "destination": {"type": "number", "number": "+14155550111"},
            "message": "Busy!",
        }
    )
    assert servers.plan(own).destination.number == "+14155550111"
    assert Overflows(OverflowDefaults(action="transfer")).plan(assistant()).action == "callback"
    to_vapi = assistant(overflowPlan={"action": "vapi"})
    assert Overflows(OverflowDefaults()).plan(to_vapi).action == "callback", "no VAPI key"
    assert Overflows(OverflowDefaults(), Handover()).plan(to_vapi).action == "vapi"


def test_a_plan_with_a_sip_destination_or_an_unknown_action_is_refused():
    with pytest.raises(ValidationError, match="number"):
        assistant(
            overflowPlan={"action": "transfer", "destination": {"type": "sip", "sipUri": "sip:a@b"}}
        )
    with pytest.raises(ValidationError, match="action"):
        assistant(overflowPlan={"action": "voicemail"})
