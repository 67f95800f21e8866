"""Pipeline stages: an ordered, configurable list, and moves between them with history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Lead, StageChange

DEFAULT_STAGES = ("new", "contacted", "qualified", "appointment", "follow_up", "won", "lost")


class StageError(ValueError):
    """An unknown stage, or a broken stages file."""


@dataclass(frozen=True)
class Stages:
    """The pipeline's stages in order; ``closed`` ones (won/lost) end the pipeline.

    A JSON file ``{"stages": ["new", ...], "closed": ["won", "lost"]}`` replaces the
    default order.
    """

    names: tuple[str, ...] = DEFAULT_STAGES
    closed: frozenset[str] = field(default_factory=lambda: frozenset({"won", "lost"}))

    @classmethod
    def load(cls, path: Path | None) -> Stages:
        """The stages in ``path``, or the defaults when there is no file.

        Raises:
            StageError: The file is not valid JSON or names no stages.
        """
        if path is None or not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            names = tuple(str(s) for s in data["stages"])
            closed = frozenset(str(s) for s in data.get("closed", ()))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise StageError(f"{path}: expected {{\"stages\": [...], \"closed\": [...]}}: {e}") from None
        if not names or len(set(names)) != len(names) or not closed <= set(names):
            raise StageError(f"{path}: stages must be unique and include every closed stage")
        return cls(names=names, closed=closed)

    def check(self, stage: str) -> str:
        """The stage, if it is one of ours.

        Raises:
            StageError: Naming the stages there are.
        """
        if stage not in self.names:
            raise StageError(f"unknown stage {stage!r}; stages are: {', '.join(self.names)}")
        return stage

    def position(self, stage: str) -> int:
        """Where a stage sits in the order (unknown stages sort first)."""
        return self.names.index(stage) if stage in self.names else -1


async def move_stage(
    session: AsyncSession,
    lead: Lead,
    to_stage: str,
    *,
    reason: str | None,
    actor: str,
    call_id: str | None = None,
) -> StageChange | None:
    """Move a lead to ``to_stage`` and record it; None when it is already there."""
    if lead.stage == to_stage:
        return None
    change = StageChange(
        lead_id=lead.id, call_id=call_id, from_stage=lead.stage, to_stage=to_stage, reason=reason, actor=actor
    )
    lead.stage = to_stage
    session.add(change)
    return change
