"""A loopback TCP fault proxy, put in front of the real Postgres or Redis to test the failure contract.

Modes (``proxy.set(mode)``):

- ``pass``: bytes flow both ways (the server as it is);
- ``refuse``: the proxy stops listening and drops every connection (a server that is down: new
  connections are refused, open ones reset);
- ``hang``: open connections stop forwarding and new ones are accepted and never answered (a
  server that stopped answering, or a network partition);

and one action, ``cut()``: every open connection is dropped now, new ones pass (a server restart,
a load balancer timing connections out). ``freeze()`` is ``set("hang")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal
from urllib.parse import urlparse

Mode = Literal["pass", "refuse", "hang"]


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @classmethod
    def for_url(cls, url: str, default_port: int) -> FaultProxy:
        parsed = urlparse(url)
        return cls(parsed.hostname or "127.0.0.1", parsed.port or default_port)

    def url(self, url: str, **query: str) -> str:
        """``url`` with its host and port replaced by the proxy's (and ``query`` parameters added)."""
        parsed = urlparse(url)
        user = f"{parsed.username}@" if parsed.username else ""
        extra = "&".join(f"{k}={v}" for k, v in query.items())
        merged = "&".join(part for part in (parsed.query, extra) if part)
        return parsed._replace(netloc=f"{user}127.0.0.1:{self.port}", query=merged).geturl()

    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def set(self, mode: Mode) -> None:
        previous, self.mode = self.mode, mode
        if mode == "refuse":
            self._drop_all()
            if self._server is not None:
                self._server.close()
                self._server = None
        elif previous == "refuse":
            await self._listen()

    def freeze(self) -> None:
        self.mode = "hang"

    def cut(self) -> None:
        """Drop every open connection now."""
        self._drop_all()

    def _drop_all(self) -> None:
        for writer in self._writers:
            with contextlib.suppress(OSError):
                sock = writer.get_extra_info("socket")
                if sock is not None:  # a reset, not a polite close: what a crashed server does
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self.mode != "pass":
            return  # accepted, never answered
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.append(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                while self.mode == "hang":
                    await asyncio.sleep(0.05)
                if dst.is_closing():
                    break
                dst.write(data)
                await dst.drain()
            if self.mode == "pass":
                dst.close()  # pass the end of the stream on, as a real server would

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._drop_all()
        if self._server is not None:
            self._server.close()


FreezableProxy = FaultProxy  # the name the first failure-contract tests use
