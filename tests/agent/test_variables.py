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


@pytest.mark.parametrize(
    "text",
    [
        "{{ name | shout }}",
        "{{ name }",
        "{% if x %}",
        "{{ 'open }}",
        "{% iff x %}",
        "{% include 'a' %}",
    ],
)
def test_bad_templates_are_caught_at_load(text: str):
    with pytest.raises(TemplateError):
        check(text)


def test_liquid_tags_and_filters_as_vapi_prompts_use_them():
    values = variables(lead(name="ana lópez", stage="qualified", tags=["web", "vip"], score=78.0))
    prompt = (
        '{% if lead.stage == "qualified" %}Greet {{ first_name | capitalize }} by name.'
        "{% else %}Ask who is calling.{% endif %} "
        "{% assign n = lead.tags | size %}Tags ({{ n }}): "
        "{% for t in lead.tags %}[{{ t }}]{% endfor %}. "
        'Score {{ lead.score }}. {{ lead.missing | default: "none" | upcase }}. '
        "{% unless lead.email %}No email on file.{% endunless %} {{ lead.tags }}."
    )
    missing: list[str] = []
    assert render(prompt, values, missing) == (
        "Greet Ana by name. Tags (2): [web][vip]. Score 78. NONE. No email on file. web, vip."
    )
    assert missing == ["lead.missing", "lead.email"], "missing variables are still reported"
    assert check(prompt) == [
        "lead.stage",
        "first_name",
        "lead.tags",
        "lead.score",
        "lead.missing",
        "lead.email",
    ]
    other = render(prompt, variables(lead(stage="new")))
    assert other.startswith("Ask who is calling.")


def test_a_template_that_fails_while_rendering_never_speaks_its_tags():
    # Division by zero only fails at render time: the text is said without its tags.
    text = "Hi {{ name | divided_by: 0 }} and {% if x %}bye{% endif %}!"
    assert render(text, {"name": 3}) == "Hi and bye!"


def test_caller_zone_from_lead_number_or_assistant():
    assert caller_zone("Europe/Madrid", "+14155550100") == "Europe/Madrid"
    assert caller_zone(None, "+14155550100") == "America/Los_Angeles"
    assert caller_zone(None, "+34612345678", "Europe/Madrid") == "Europe/Madrid", (
        "ambiguous numbers use the assistant's"
    )
    assert caller_zone("Not/AZone", None) == "UTC"
