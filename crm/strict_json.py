"""JSON from outside, read strictly: finite numbers only, nesting bounded, a clear error."""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any provider or API body we accept; bounds our own recursion over the value.
MAX_DEPTH = 64


class JsonRefused(ValueError):
    """A body that is not JSON we accept (answered 400, with the reason)."""


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"{text[:40]} is out of range")
    return value


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in item)
    return True


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``text`` as a JSON value.

    Raises:
        JsonRefused: Not JSON, not UTF-8, ``NaN``/``Infinity`` (or a number too big for a
            float), or nested deeper than ``max_depth``.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise JsonRefused(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise JsonRefused("the body is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise JsonRefused(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not _depth_within(value, max_depth):
        raise JsonRefused(f"nested deeper than {max_depth} levels")
    return value


def finite(value: float | None) -> float | None:
    """``value``, or None when it is NaN or infinite (never emitted: it is not JSON)."""
    return value if value is None or math.isfinite(value) else None
