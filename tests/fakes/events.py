"""Waiting on the event log a test peer keeps (the PJSIP test phone, baresip)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def first_event(
    events: list[dict],
    changed: asyncio.Event,
    match: str | Callable[[dict], bool],
    *,
    kind: str,
    after: int = 0,
    timeout: float = 15,
    fields: dict[str, Any],
) -> dict:
    """The first of ``events`` (from index ``after``) whose ``kind`` is ``match`` with
    ``fields``, or for which ``match`` is true; waits on ``changed`` for more."""

    def matches(event: dict) -> bool:
        if callable(match):
            return match(event)
        return event.get(kind) == match and all(event.get(k) == v for k, v in fields.items())

    async def find() -> dict:
        while True:
            for event in events[after:]:
                if matches(event):
                    return event
            changed.clear()
            await changed.wait()

    return await asyncio.wait_for(find(), timeout)
