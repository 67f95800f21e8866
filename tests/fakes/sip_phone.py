"""A SIP phone for tests: PJSIP (pjsua2) in its own process, on 127.0.0.1, driven by JSON lines.

A real user agent (PJSIP's own call, media and REFER handling), so tests of our
SIP engine talk to an independent implementation of the protocol with real RTP.
It plays a tone or a WAV (``play``; ``--greeting`` plays one on every call it
answers), records what it hears to a WAV, hears each call through an "ear" that
reports when sound starts and stops (``sound`` events, counted in 20 ms frames of
the call's media clock, as is ``playing``) and saves it (``ear_save``), sends DTMF
(RFC 4733 or SIP INFO), answers or refuses calls, follows REFERs, holds, and hangs up.

The phone runs as ``python -m tests.fakes.sip_phone_process`` (see that module):
commands on stdin, one JSON object a line (``{"cmd": "call", "uri": "sip:..."}``),
events on stdout (``{"event": "state", "call": 0, "state": "CONFIRMED", "code": 200}``).
:class:`SipPhone` starts it and waits for its events.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.events import first_event


class SipPhone:
    """Starts a test phone process and talks to it (asyncio)."""

    def __init__(self, *, answer: int = 200, refer_code: int = 202, tone: int = 0, **options):
        """Configure: auto-answer status, REFER response, tone frequency played on calls (0: none).

        Other options: ``user``, ``username``/``password`` (digest for calls it makes),
        ``log_level``.
        """
        self.options = {"answer": answer, "refer_code": refer_code, "tone": tone, **options}
        self.port = 0
        self.events: list[dict] = []
        self._process: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    @property
    def uri(self) -> str:
        """This phone's address."""
        return f"sip:{self.options.get('user', 'phone')}@127.0.0.1:{self.port}"

    async def start(self) -> SipPhone:
        """Start the process and wait until it listens."""
        argv = [sys.executable, "-m", "tests.fakes.sip_phone_process"]
        for name, value in self.options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        root = Path(__file__).resolve().parents[2]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        self._reader = asyncio.create_task(self._read())
        ready = await self.wait_for("ready", timeout=20)
        self.port = ready["port"]
        return self

    async def stop(self) -> None:
        """End the process."""
        if self._process and self._process.returncode is None:
            try:
                await self.send("quit", wait=False)
                await asyncio.wait_for(self._process.wait(), 5)
            except (TimeoutError, ConnectionError):
                self._process.kill()
                await self._process.wait()
        if self._reader:
            self._reader.cancel()

    async def send(self, cmd: str, *, wait: bool = True, **fields: Any) -> None:
        """Run a command in the phone (and wait until it ran)."""
        assert self._process and self._process.stdin
        seen = len(self.events)
        self._process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
        await self._process.stdin.drain()
        if not wait:
            return
        result = await self.wait_for(
            lambda e: e["event"] in ("done", "error") and e.get("cmd") == cmd, after=seen
        )
        if result["event"] == "error":
            raise RuntimeError(f"phone {cmd}: {result['error']}")

    async def wait_for(
        self, match: str | Callable[[dict], bool], *, timeout: float = 15, after: int = 0, **fields
    ) -> dict:
        """The first event (from index ``after``) named ``match`` with ``fields``, or matching."""
        return await first_event(
            self.events,
            self._changed,
            match,
            kind="event",
            after=after,
            timeout=timeout,
            fields=fields,
        )

    async def _read(self) -> None:
        assert self._process and self._process.stdout
        async for line in self._process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # PJSIP's own log lines
            self.events.append(event)
            self._changed.set()
