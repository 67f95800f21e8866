"""The post-call analysis part of an assistant (``analysisPlan``), in VAPI's old and new shapes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.parts import AssistantPart
from crm.analysis import plan as job

# VAPI's older flat fields, as read inside ``analysisPlan`` (and, older still, at the top level).
FLAT_KEYS = (
    "summaryPrompt",
    "structuredDataPrompt",
    "structuredDataSchema",
    "successEvaluationPrompt",
    "successEvaluationRubric",
)


class PlanMessage(AssistantPart):
    """A prompt message of a nested plan (VAPI: ``summaryPlan.messages``)."""

    role: str = "system"
    content: str = ""


class SummaryPlan(AssistantPart):
    """``analysisPlan.summaryPlan``."""

    enabled: bool = True
    messages: list[PlanMessage] = Field(default_factory=list)
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)


class StructuredDataPlan(AssistantPart):
    """``analysisPlan.structuredDataPlan``."""

    enabled: bool = True
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    messages: list[PlanMessage] = Field(default_factory=list)
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)


class SuccessEvaluationPlan(AssistantPart):
    """``analysisPlan.successEvaluationPlan``."""

    enabled: bool = True
    rubric: str | None = None
    messages: list[PlanMessage] = Field(default_factory=list)
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)


def _system_prompt(messages: list[PlanMessage]) -> str | None:
    text = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    return text or None


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


class AnalysisPlan(AssistantPart):
    """What to work out after a call: summary, structured data, success evaluation.

    Both of VAPI's shapes are accepted: the flat one (``summaryPrompt``,
    ``structuredDataSchema``, ``successEvaluationPrompt``...) and the nested plans
    (``summaryPlan``, ``structuredDataPlan``, ``successEvaluationPlan``). Where a file
    has both, the nested plan wins.
    """

    summary_prompt: str | None = None
    structured_data_prompt: str | None = None
    structured_data_schema: dict[str, Any] | None = None
    success_evaluation_prompt: str | None = None
    success_evaluation_rubric: str | None = None
    summary_plan: SummaryPlan | None = None
    structured_data_plan: StructuredDataPlan | None = None
    success_evaluation_plan: SuccessEvaluationPlan | None = None

    def for_analysis(self) -> job.AnalysisPlan:
        """The plan as the post-call analysis reads it: the one reading of ``analysisPlan``.

        A nested plan's system messages, schema and rubric win over the flat fields;
        ``enabled: false`` turns its part off. Empty texts and schemas count as not set.
        """
        summary, data, success = (
            self.summary_plan,
            self.structured_data_plan,
            self.success_evaluation_plan,
        )
        return job.AnalysisPlan(
            summary_prompt=(summary and _system_prompt(summary.messages))
            or _text(self.summary_prompt),
            summary_enabled=summary is None or summary.enabled,
            structured_data_prompt=(data and _system_prompt(data.messages))
            or _text(self.structured_data_prompt),
            structured_data_schema=(data and data.schema_) or self.structured_data_schema or None,
            structured_data_enabled=data is None or data.enabled,
            success_evaluation_prompt=(success and _system_prompt(success.messages))
            or _text(self.success_evaluation_prompt),
            success_evaluation_rubric=_text(
                (success and success.rubric) or self.success_evaluation_rubric
            ),
            success_evaluation_enabled=success is None or success.enabled,
        )

    def settings(self) -> dict[str, Any]:
        """The plan as the API shows it: what the analysis reads, with disabled parts as None.

        Returns:
            ``{"summaryPrompt", "structuredDataPrompt", "structuredDataSchema",
            "successEvaluationPrompt", "successEvaluationRubric"}``, each None when
            not configured or disabled, plus ``timeoutSeconds`` per nested part.
        """
        plan = self.for_analysis()
        summary, data, success = (
            plan.summary_enabled,
            plan.structured_data_enabled,
            plan.success_evaluation_enabled,
        )
        timeouts = {
            part: nested.timeout_seconds
            for part, nested in (
                ("summary", self.summary_plan),
                ("structuredData", self.structured_data_plan),
                ("successEvaluation", self.success_evaluation_plan),
            )
            if nested is not None
        }
        return {
            "summaryPrompt": plan.summary_prompt if summary else None,
            "structuredDataPrompt": plan.structured_data_prompt if data else None,
            "structuredDataSchema": plan.structured_data_schema if data else None,
            "successEvaluationPrompt": plan.success_evaluation_prompt if success else None,
            "successEvaluationRubric": plan.success_evaluation_rubric if success else None,
            "timeoutSeconds": timeouts,
        }


def merge_top_level_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Flat fields (``summaryPrompt``...) at a file's top level, moved into its ``analysisPlan``.

    What the plan itself says wins.
    """
    flat = {key: data.pop(key) for key in FLAT_KEYS if key in data}
    name = (
        "analysis_plan"
        if "analysis_plan" in data and "analysisPlan" not in data
        else "analysisPlan"
    )
    plan = data.get(name)
    if flat and (plan is None or isinstance(plan, dict)):
        data[name] = {**flat, **(plan or {})}
    return data
