"""What an assistant asks of the post-call analysis, as plain data, and its ``{{placeholders}}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


@dataclass(frozen=True)
class AnalysisPlan:
    """What an assistant asks of the post-call analysis.

    The assistant file's ``analysisPlan`` (VAPI's nested plans or its older flat fields) is
    read once, where the file is validated (``agent/analysis.py``); the analysis receives
    this record and reads no assistant JSON itself.

    Parameters:
        summary_prompt: Instructions for the summary (None: ours).
        summary_enabled: Whether to write a summary at all.
        structured_data_prompt: Instructions for the structured data.
        structured_data_schema: A JSON schema the structured data must follow (None: none asked).
        structured_data_enabled: Whether to extract structured data at all.
        success_evaluation_prompt: Instructions for judging whether the call succeeded.
        success_evaluation_rubric: VAPI rubric name (``PassFail``, ``NumericScale``...).
        success_evaluation_enabled: Whether to evaluate success.
    """

    summary_prompt: str | None = None
    summary_enabled: bool = True
    structured_data_prompt: str | None = None
    structured_data_schema: dict[str, Any] | None = None
    structured_data_enabled: bool = True
    success_evaluation_prompt: str | None = None
    success_evaluation_rubric: str | None = None
    success_evaluation_enabled: bool = True

    @property
    def wants_structured_data(self) -> bool:
        """Whether the assistant asked for structured data."""
        return self.structured_data_enabled and bool(
            self.structured_data_schema or self.structured_data_prompt
        )

    @property
    def wants_success_evaluation(self) -> bool:
        """Whether the assistant asked for a success evaluation."""
        return self.success_evaluation_enabled and bool(
            self.success_evaluation_prompt or self.success_evaluation_rubric
        )


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace VAPI's ``{{transcript}}``-style placeholders with ``values`` (unknown: empty)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)
