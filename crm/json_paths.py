"""Where in a JSON file a problem is: pydantic error locations as paths (``$.model.tools[0]``)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def json_path(location: tuple[Any, ...]) -> str:
    """A pydantic error location as a JSON path: ``$.model.messages[0].role``."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def problems(error: ValidationError) -> str:
    """Every problem of a validation error, ``path: reason``, joined by ``; ``."""
    return "; ".join(f"{json_path(err['loc'])}: {err['msg']}" for err in error.errors())
