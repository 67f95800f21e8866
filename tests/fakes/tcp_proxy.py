"""A TCP proxy on 127.0.0.1 that a test takes down or stalls: a database outage, for real."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards connections to ``host:port``; :meth:`down` and :meth:`stall` break it.

    ``down``: the port refuses connections and open ones are cut (the database host is
    gone). ``stall``: connections are accepted and kept open, but nothing is forwarded
    either way (packets dropped, sockets open). ``up`` restores forwarding on the same port.
    """

    def __init__(self, host: str, port: int):
        """A proxy to ``host:port`` (not listening until :meth:`start`)."""
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self.port = 0

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        """Listen (on a free port the first time, then on the same one)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._flowing.set()
        return self

    async def down(self) -> None:
        """Refuse new connections and cut open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._cut()

    async def stall(self) -> None:
        """Keep accepting and holding connections, but forward nothing."""
        self._flowing.clear()

    async def up(self) -> None:
        """Forward again (listening again after :meth:`down`; stalled connections are cut)."""
        if not self._flowing.is_set():
            self._cut()
        if self._server is None:
            await self.start()
        self._flowing.set()

    async def stop(self) -> None:
        """Stop for good."""
        await self.down()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def _cut(self) -> None:
        for task in list(self._pipes):
            task.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except (OSError, asyncio.CancelledError):
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        pipes = [
            asyncio.create_task(self._pipe(reader, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        for pipe in pipes:
            pipe.add_done_callback(self._pipes.discard)
        await asyncio.gather(*pipes, return_exceptions=True)
        for end in (writer, upstream_writer):
            end.transport.abort()
            self._writers.discard(end)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
