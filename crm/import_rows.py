"""The records of a CSV import: one valid lead per number, each problem by line, what it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.lead_fields import LeadFields


@dataclass
class RowError:
    """A problem with one CSV line (1 is the header)."""

    line: int
    column: str
    message: str


@dataclass
class ImportRow:
    """One valid lead from the file (rows with the same number already merged)."""

    phone: str
    fields: LeadFields
    stage: str | None = None
    do_not_call: bool | None = None
    lines: list[int] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did (or would do, or why it did nothing)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged_duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report for the API."""
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "mergedDuplicates": self.merged_duplicates,
            "errors": [
                {"line": e.line, "column": e.column, "message": e.message} for e in self.errors
            ],
        }
