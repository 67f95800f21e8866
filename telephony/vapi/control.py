"""Acting on a live VAPI call from a tool, via its ``monitor.controlUrl`` (Live Call Control)."""

from __future__ import annotations

from typing import Any

import aiohttp
from loguru import logger

from agent.tool_config import TransferDestination
from agent.tools.base import DtmfFailed, TransferBrief, TransferFailed

CONTROL_TIMEOUT = aiohttp.ClientTimeout(total=3.0)


class VapiControl:
    """:class:`agent.tools.base.CallControl` for a call VAPI carries."""

    def __init__(self, http: aiohttp.ClientSession, control_url: str, call_id: str):
        """Bind to one call's control URL (from ``call.monitor.controlUrl``)."""
        self._http = http
        self._url = control_url
        self._call_id = call_id

    async def _post(self, body: dict[str, Any]) -> bool:
        try:
            async with self._http.post(self._url, json=body, timeout=CONTROL_TIMEOUT) as response:
                if response.status < 300:
                    return True
                logger.warning(
                    f"call {self._call_id}: VAPI call control {body['type']} answered "
                    f"{response.status}"
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.warning(f"call {self._call_id}: VAPI call control {body['type']} failed: {e!r}")
        return False

    async def say(self, text: str) -> None:
        """Have VAPI say a line."""
        await self._post({"type": "say", "content": text})

    async def hang_up(self, reason: str, goodbye: str | None) -> None:
        """Say ``goodbye`` (if any) and end the call."""
        if goodbye:
            await self._post({"type": "say", "content": goodbye, "endCallAfterSpoken": True})
        else:
            await self._post({"type": "end-call"})

    async def transfer(
        self,
        destination: TransferDestination,
        announcement: str,
        brief: TransferBrief | None = None,
    ) -> None:
        """Move the call to ``destination`` after ``announcement``.

        Raises:
            TransferFailed: VAPI did not accept the transfer, or the destination is a queue
                (VAPI carries the call: our agents' queues need our pipeline).
        """
        if destination.type == "queue":
            raise TransferFailed("a VAPI call cannot be transferred to one of our agent queues")
        target = (
            {"type": "sip", "sipUri": destination.sip_uri}
            if destination.type == "sip"
            else {"type": "number", "number": destination.number}
        )
        if not await self._post(
            {"type": "transfer", "destination": target, "content": announcement}
        ):
            raise TransferFailed("VAPI did not accept the transfer")

    async def send_dtmf(self, keys: str) -> None:
        """VAPI presses keys with its own ``dtmf`` tool (ours is pushed as that), not through us.

        Raises:
            DtmfFailed: Always.
        """
        raise DtmfFailed("on VAPI calls keys are pressed by VAPI's own dtmf tool")
