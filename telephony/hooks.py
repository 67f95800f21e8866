"""After-call hooks run in the background: a slow or failing hook never delays the call or another hook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger

Hook = Callable[[str], Awaitable[None]]


def start_hooks(hooks: list[Hook], call_id: str, background: set[asyncio.Task]) -> None:
    """Start each hook on ``call_id`` as a task kept in ``background`` until it ends."""
    for hook in hooks:
        task = asyncio.create_task(_run(hook, call_id))
        background.add(task)
        task.add_done_callback(background.discard)


async def _run(hook: Hook, call_id: str) -> None:
    try:
        await hook(call_id)
    except Exception as e:
        logger.exception(f"call {call_id}: after-call hook {getattr(hook, '__qualname__', hook)} failed: {e}")
