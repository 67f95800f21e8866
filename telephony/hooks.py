"""Call hooks: after-call ones run in the background; status ones in turn, past any that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger

from crm.models import Call

Hook = Callable[[str], Awaitable[None]]
StatusHook = Callable[[Call], Awaitable[None]]


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
        logger.exception(
            f"call {call_id}: after-call hook {getattr(hook, '__qualname__', hook)} failed: {e}"
        )


async def run_status_hooks(hooks: list[StatusHook], call: Call) -> None:
    """Await each status hook on ``call`` (the dialer settles attempts here); failures logged."""
    for hook in hooks:
        try:
            await hook(call)
        except Exception as e:
            logger.exception(
                f"call {call.id}: status hook {getattr(hook, '__qualname__', hook)} failed: {e}"
            )
