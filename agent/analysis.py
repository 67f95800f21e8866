"""The post-call analysis part of an assistant (``analysisPlan``), in VAPI's old and new shapes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.parts import AssistantPart


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

    def settings(self) -> dict[str, Any]:
        """The plan as plain data for the post-call analysis (which imports nothing of agent/).

        Returns:
            ``{"summaryPrompt", "structuredDataPrompt", "structuredDataSchema",
            "successEvaluationPrompt", "successEvaluationRubric"}``, each None when
            not configured or disabled, plus ``timeoutSeconds`` per part.
        """
        summary, data, success = (
            self.summary_plan,
            self.structured_data_plan,
            self.success_evaluation_plan,
        )
        result: dict[str, Any] = {
            "summaryPrompt": self.summary_prompt,
            "structuredDataPrompt": self.structured_data_prompt,
            "structuredDataSchema": self.structured_data_schema,
            "successEvaluationPrompt": self.success_evaluation_prompt,
            "successEvaluationRubric": self.success_evaluation_rubric,
            "timeoutSeconds": {},
        }
        if summary is not None:
            result["summaryPrompt"] = _system_prompt(summary.messages) or result["summaryPrompt"]
            result["timeoutSeconds"]["summary"] = summary.timeout_seconds
            if not summary.enabled:
                result["summaryPrompt"] = None
        if data is not None:
            result["structuredDataPrompt"] = (
                _system_prompt(data.messages) or result["structuredDataPrompt"]
            )
            result["structuredDataSchema"] = data.schema_ or result["structuredDataSchema"]
            result["timeoutSeconds"]["structuredData"] = data.timeout_seconds
            if not data.enabled:
                result["structuredDataPrompt"] = result["structuredDataSchema"] = None
        if success is not None:
            result["successEvaluationPrompt"] = (
                _system_prompt(success.messages) or result["successEvaluationPrompt"]
            )
            result["successEvaluationRubric"] = success.rubric or result["successEvaluationRubric"]
            result["timeoutSeconds"]["successEvaluation"] = success.timeout_seconds
            if not success.enabled:
                result["successEvaluationPrompt"] = result["successEvaluationRubric"] = None
        return result
