"""{{variables}} from defaults, the lead and the call, in the caller's zone; never raw braces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.assistant import Assistant
from agent.clock import caller_zone
from agent.templates import TemplateError, check, render
from agent.variables import call_variables
from crm.models import Lead

NOW = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)


def variables(lead: Lead | None = None, overrides=None, **assistant) -> dict:
    config = Assistant.model_validate({"name": "t", **assistant})
    return call_variables(
        config,
        lead=lead,
        phone="+14155550100",
        timezone="America/New_York",
        overrides=overrides,
        now=NOW,
    )


def lead(**fields) -> Lead:
    return Lead(
        **{
            "id": "L1",
            "phone": "+14155550100",
            "stage": "qualified",
            "tags": [],
            "custom_fields": {},
            **fields,
        }
    )


def test_lead_fields_custom_fields_and_time():
    values = variables(
        lead(
            name="Ana López", company="Acme", custom_fields={"location": "beach", "name": "ignored"}
        )
    )
    text = (
        "Hi {{first_name}} ({{name}}) of {{company}}, {{lead.stage}}, {{location}}, "
        "{{lead.location}}. {{now}} {{customer.number}}"
    )
    assert render(text, values) == (
        "Hi Ana (Ana López) of Acme, qualified, beach, beach. "
        "Monday 2026-03-02 12:05 (America/New_York) +14155550100"
    )


def test_defaults_and_missing_values_never_speak_as_braces():
    values = variables()
    assert render('Hi {{ name | default: "there" }}, welcome!', values) == "Hi there, welcome!"
    assert render("Hi {{ name }}, welcome to {{ lead.company }}.", values) == "Hi, welcome to."
    missing: list[str] = []
    render("{{ name }} {{ lead.stage }}", values, missing)
    assert missing == ["name", "lead.stage"]
    assert render("broken {{ name | shout }} and {{ stray", values) == "broken and stray"


def test_assistant_defaults_lose_to_the_lead_and_the_call_wins():
    values = variables(
        lead(name="Ana"),
        overrides={"name": "Ana María", "plan": "Fibra 100"},
        variableValues={"name": "amigo", "plan": "basic", "brand": "Mar Azul"},
    )
    assert render("{{name}} / {{plan}} / {{brand}}", values) == "Ana María / Fibra 100 / Mar Azul"
    assert render("{{name}}", variables(variableValues={"name": "amigo"})) == "amigo"


def test_filters_and_spanish_dates():
    values = variables(lead(name="ana"), transcriber={"language": "es"})
    assert render("{{ name | capitalize }} {{ name | upcase }}", values) == "Ana ANA"
    assert render("{{weekday}} {{day}} de {{month}}", values) == "lunes 2 de marzo"
    assert render('{{ "now" | date: "%H:%M", "Europe/Madrid" }}', values) == "18:05"


@pytest.mark.parametrize("text", ["{{ name | shout }}", "{{ name }", "{% if x %}", "{{ 'open }}"])
def test_bad_templates_are_caught_at_load(text: str):
    with pytest.raises(TemplateError):
        check(text)


def test_caller_zone_from_lead_number_or_assistant():
    assert caller_zone("Europe/Madrid", "+14155550100") == "Europe/Madrid"
    assert caller_zone(None, "+14155550100") == "America/Los_Angeles"
    assert caller_zone(None, "+34612345678", "Europe/Madrid") == "Europe/Madrid", (
        "ambiguous numbers use the assistant's"
    )
    assert caller_zone("Not/AZone", None) == "UTC"
