"""``analysisPlan`` is read once: what the post-call analysis gets is what the API shows."""

from __future__ import annotations

from typing import Any

from agent.assistant import Assistant
from crm.analysis.plan import AnalysisPlan

SCHEMA = {"type": "object", "properties": {"plan": {"type": "string"}}}


def plan_of(**fields: Any) -> AnalysisPlan:
    return Assistant.model_validate({"name": "a", **fields}).analysis_plan.for_analysis()


def test_nested_plans_win_over_flat_fields():
    nested = plan_of(
        analysisPlan={
            "summaryPrompt": "Flat.",
            "summaryPlan": {
                "messages": [{"role": "system", "content": "Summarize for {{transcript}} readers."}]
            },
            "structuredDataPlan": {"schema": SCHEMA},
            "successEvaluationPlan": {
                "rubric": "PassFail",
                "messages": [{"role": "system", "content": "Did they book?"}],
            },
        }
    )
    assert nested == AnalysisPlan(
        summary_prompt="Summarize for {{transcript}} readers.",
        structured_data_schema=SCHEMA,
        success_evaluation_prompt="Did they book?",
        success_evaluation_rubric="PassFail",
    )
    flat = plan_of(
        analysisPlan={
            "summaryPrompt": " Short. ",
            "structuredDataSchema": {"type": "object"},
            "success_evaluation_prompt": "Booked?",
            "structuredDataPrompt": "",
        }
    )
    assert flat == AnalysisPlan(
        summary_prompt="Short.",
        structured_data_schema={"type": "object"},
        success_evaluation_prompt="Booked?",
    )
    assert plan_of() == AnalysisPlan() and not plan_of().wants_structured_data


def test_a_disabled_part_is_off_for_the_analysis_and_none_in_the_api():
    assistant = Assistant.model_validate(
        {
            "name": "a",
            "analysisPlan": {
                "summaryPrompt": "Summarize.",
                "summaryPlan": {"enabled": False},
                "structuredDataPlan": {"enabled": False, "schema": SCHEMA},
                "successEvaluationPlan": {"enabled": False, "rubric": "PassFail"},
            },
        }
    )
    plan = assistant.analysis_plan.for_analysis()
    assert not plan.summary_enabled
    assert not plan.wants_structured_data and not plan.wants_success_evaluation
    shown = assistant.analysis_settings()
    assert shown["summaryPrompt"] is shown["structuredDataSchema"] is None
    assert shown["successEvaluationRubric"] is None


def test_flat_fields_at_the_top_of_the_file_join_the_plan():
    assistant = Assistant.model_validate(
        {
            "name": "a",
            "summaryPrompt": "Top.",
            "successEvaluationPrompt": "Top?",
            "analysisPlan": {"successEvaluationPrompt": "Plan?"},
        }
    )
    plan = assistant.analysis_plan.for_analysis()
    assert (plan.summary_prompt, plan.success_evaluation_prompt) == ("Top.", "Plan?")
    assert "summaryPrompt" not in (assistant.model_extra or {})
    assert assistant.analysis_settings()["summaryPrompt"] == "Top."
