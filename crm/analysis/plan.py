"""An assistant's analysis plan (VAPI ``analysisPlan``), nested or flat, as plain data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


@dataclass(frozen=True)
class AnalysisPlan:
    """What an assistant asks of the post-call analysis.

    Parameters:
        summary_prompt: Instructions for the summary (None: ours).
        summary_enabled: Whether to write a summary at all.
        structured_data_prompt: Instructions for the structured data.
        structured_data_schema: A JSON schema the structured data must follow (None: none asked).
        success_evaluation_prompt: Instructions for judging whether the call succeeded.
        success_evaluation_rubric: VAPI rubric name (``PassFail``, ``NumericScale``...).
        success_evaluation_enabled: Whether to evaluate success.
    """

    summary_prompt: str | None = None
    summary_enabled: bool = True
    structured_data_prompt: str | None = None
    structured_data_schema: dict[str, Any] | None = None
    success_evaluation_prompt: str | None = None
    success_evaluation_rubric: str | None = None
    success_evaluation_enabled: bool = True

    @property
    def wants_structured_data(self) -> bool:
        """Whether the assistant asked for structured data."""
        return bool(self.structured_data_schema or self.structured_data_prompt)

    @property
    def wants_success_evaluation(self) -> bool:
        """Whether the assistant asked for a success evaluation."""
        return self.success_evaluation_enabled and bool(
            self.success_evaluation_prompt or self.success_evaluation_rubric
        )

    @classmethod
    def from_data(cls, data: Any) -> AnalysisPlan:
        """Read a plan from an assistant file's ``analysisPlan`` (dict, pydantic model or None).

        Accepts VAPI's nested form (``summaryPlan.messages``, ``structuredDataPlan.schema``,
        ``successEvaluationPlan.rubric``) and the older flat one (``summaryPrompt``,
        ``structuredDataSchema``, ``successEvaluationPrompt``), camelCase or snake_case.
        """
        if isinstance(data, AnalysisPlan):
            return data
        if hasattr(data, "model_dump"):
            data = data.model_dump(by_alias=True, exclude_none=True)
        if not isinstance(data, Mapping):
            return cls()
        summary = _section(data, "summaryPlan")
        structured = _section(data, "structuredDataPlan")
        success = _section(data, "successEvaluationPlan")
        return cls(
            summary_prompt=_prompt(summary) or _text(_get(data, "summaryPrompt")),
            summary_enabled=_enabled(summary),
            structured_data_prompt=_prompt(structured) or _text(_get(data, "structuredDataPrompt")),
            structured_data_schema=_schema(
                _get(structured, "schema") or _get(data, "structuredDataSchema")
            ),
            success_evaluation_prompt=_prompt(success)
            or _text(_get(data, "successEvaluationPrompt")),
            success_evaluation_rubric=_text(
                _get(success, "rubric") or _get(data, "successEvaluationRubric")
            ),
            success_evaluation_enabled=_enabled(success),
        )


FLAT_KEYS = (
    "summaryPrompt",
    "structuredDataPrompt",
    "structuredDataSchema",
    "successEvaluationPrompt",
    "successEvaluationRubric",
)


def plan_of(assistant: Any) -> Any:
    """An assistant's analysis plan, read from any assistant object without importing its class.

    Looks for a typed ``analysis_plan`` attribute, else ``analysisPlan`` among the file's
    extra fields, plus the older flat fields (``summaryPrompt``...) at the top level.
    """
    if assistant is None:
        return None
    extra = getattr(assistant, "model_extra", None) or {}
    plan = getattr(assistant, "analysis_plan", None)
    if plan is None:
        plan = extra.get("analysisPlan")
    if hasattr(plan, "model_dump"):
        plan = plan.model_dump(by_alias=True, exclude_none=True)
    flat = {key: extra[key] for key in FLAT_KEYS if key in extra}
    if not flat:
        return plan
    return {**flat, **(plan if isinstance(plan, Mapping) else {})}


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace VAPI's ``{{transcript}}``-style placeholders with ``values`` (unknown ones: empty)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _get(data: Mapping[str, Any] | None, camel: str) -> Any:
    if not data:
        return None
    return data.get(camel, data.get(_snake(camel)))


def _section(data: Mapping[str, Any], camel: str) -> Mapping[str, Any] | None:
    value = _get(data, camel)
    return value if isinstance(value, Mapping) else None


def _enabled(section: Mapping[str, Any] | None) -> bool:
    return _get(section, "enabled") is not False


def _prompt(section: Mapping[str, Any] | None) -> str | None:
    messages = _get(section, "messages")
    if not isinstance(messages, list):
        return None
    parts = [
        str(m.get("content", ""))
        for m in messages
        if isinstance(m, Mapping) and m.get("role", "system") == "system" and m.get("content")
    ]
    return "\n\n".join(parts) or None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _schema(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) and value else None
