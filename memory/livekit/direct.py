"""A direct channel from a job process to the host's inference process: one hop instead of two.

Through LiveKit's inference executor a request travels job process -> worker main process ->
inference process (its event loop, then a thread of its executor) and back the same way: six
wake-ups of three processes, each of which may wait for a core on a busy host, and the main
process also serves every other job's pings, logs and requests. The direct channel is a Unix
socket the inference process listens on: the job writes a request, one thread of the inference
process (blocked on that socket) wakes, runs it and writes the reply; the job's event loop wakes
once. Two wake-ups, as for a model on a thread of the job's own process.

Where to connect: on Linux the worker's main process picks the address (in the abstract namespace)
and a token before its server starts (:func:`plan`) and hands them down in the environment
(``MEMORY_EMBED_DIRECT_AT``), which its inference process and every job process inherit; a job
then connects without asking anyone, before its call, and a restarted inference process listens
at the same address. Otherwise it is set up through LiveKit's channel: the job asks the runner for
the socket's address and token (a request like any other). Either way the job sends the token
first. Everything else keeps
LiveKit's path as the fallback: a job whose channel cannot be set up, or is lost (the inference
process died, the job's loop changed), sends its requests through LiveKit again and tries the
channel again later.

    DirectServer    the inference process's side: a listening socket, a thread per job process
    DirectChannel   the job's side (an asyncio protocol): requests answered in the order sent

Frames, both ways: 4 bytes of length (big-endian) then the bytes. The job's first frame is the
token, answered by ``ok``. A reply starts with one byte: ``0`` the runner's reply follows, ``1``
an error message (UTF-8) follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing import util as mp_util

from ..errors import EmbedderUnavailableError

__all__ = ["ENV", "DirectChannel", "DirectServer", "direct_supported", "plan", "planned"]

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")
_OK, _ERROR = b"\x00", b"\x01"
HELLO_TIMEOUT_S = 5.0  # a connection that does not send its token within this is dropped
MAX_FRAME = 64 * 2**20  # a request or reply larger than this is refused (the channel is then closed)
ENV = "MEMORY_EMBED_DIRECT_AT"  # "@<abstract address> <token>", set by the worker's main process


def direct_supported() -> bool:
    return hasattr(socket, "AF_UNIX")


def plan(name: str = "memory-embed") -> bool:
    """In the worker's main process, before its server starts: pick the address and token its
    inference process will listen with and put them in the environment its children inherit
    (Linux only: an abstract address needs no folder). ``False`` when not (another platform, or
    already planned)."""
    if not sys.platform.startswith("linux") or not direct_supported() or os.environ.get(ENV):
        return False
    os.environ[ENV] = f"@{name}-{os.getpid()}-{secrets.token_hex(8)} {secrets.token_hex(16)}"
    return True


def planned() -> tuple[str, str] | None:
    """The (address, token) the main process planned, if any (``None`` when unset or malformed)."""
    address, _, token = (os.environ.get(ENV) or "").partition(" ")
    if not address.startswith("@") or len(address) < 2 or not token:
        return None
    return "\0" + address[1:], token


def _frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _read_exactly(conn: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _read_frame(conn: socket.socket) -> bytes | None:
    head = _read_exactly(conn, _LENGTH.size)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ValueError(f"a frame of {length} bytes")
    return _read_exactly(conn, length)


class DirectServer:
    """Listens on a Unix socket of the inference process; each job process that connects (with the
    token) gets a thread that runs ``handle`` on its requests, one at a time, and replies.

    The address is in Linux's abstract namespace (nothing on disk, gone with the process);
    elsewhere a socket file in a private temporary folder, removed when the process exits normally.
    """

    def __init__(
        self,
        handle: Callable[[bytes], bytes],
        *,
        name: str = "memory-embed",
        at: tuple[str, str] | None = None,
        on_thread: Callable[[], None] | None = None,
    ) -> None:
        """``at``: the (address, token) to listen with (see :func:`planned`); by default new ones.
        ``on_thread``: called first in each job's serving thread (its CPU priority, say)."""
        self._handle = handle
        self._on_thread = on_thread
        self._name = name
        self.token = secrets.token_hex(16)
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if at is not None:
            self.address, self.token = at
        elif sys.platform.startswith("linux"):
            self.address = f"\0{name}-{os.getpid()}-{secrets.token_hex(8)}"
        else:
            folder = tempfile.mkdtemp(prefix=f"{name}-")  # mode 0700
            self.address = os.path.join(folder, "s")
            mp_util.Finalize(self, shutil.rmtree, args=(folder, True), exitpriority=0)
        self._sock.bind(self.address)
        self._sock.listen(256)
        self._thread = threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(conn,), name=f"{self._name}-job", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self._on_thread is not None:
            self._on_thread()
        with self._lock:
            self._conns.add(conn)
        with conn:
            try:
                conn.settimeout(HELLO_TIMEOUT_S)
                token = _read_frame(conn)
                if token is None or not hmac.compare_digest(token, self.token.encode("ascii")):
                    return
                conn.settimeout(None)
                conn.sendall(_frame(b"ok"))
                while (request := _read_frame(conn)) is not None:
                    try:
                        reply = _OK + self._handle(request)
                    except Exception as exc:  # the job raises it, as LiveKit's path does
                        reply = _ERROR + str(exc).encode("utf-8", "replace")
                    conn.sendall(_frame(reply))
            except (OSError, ValueError):  # the job process went away, or sent garbage
                return
            finally:
                with self._lock:
                    self._conns.discard(conn)

    def close(self) -> None:
        """Stop listening and end every job's connection (their requests then go through LiveKit)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class DirectChannel(asyncio.Protocol):
    """The job's end of a :class:`DirectServer` connection, on the event loop that opened it.
    Requests may overlap: replies come in the order the requests were sent."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: deque[asyncio.Future[bytes]] = deque()
        self._arrived: dict[asyncio.Future[bytes], float] = {}  # when each reply reached the loop
        self._lost: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def connect(cls, address: str, token: str, *, timeout_s: float = HELLO_TIMEOUT_S) -> DirectChannel:
        loop = asyncio.get_running_loop()
        _, channel = await asyncio.wait_for(loop.create_unix_connection(cls, address), timeout_s)
        channel.loop = loop
        try:
            hello = await asyncio.wait_for(channel._send(token.encode("ascii")), timeout_s)
        except BaseException:
            channel.close()
            raise
        if hello != b"ok":
            channel.close()
            raise EmbedderUnavailableError("the host's embedder refused the direct channel")
        return channel

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def request(self, data: bytes) -> bytes:
        """The runner's reply to ``data``; ``RuntimeError`` with its message when it failed,
        ``EmbedderUnavailableError`` when the channel is lost before the reply."""
        return (await self.request_timed(data))[0]

    async def request_timed(self, data: bytes) -> tuple[bytes, float]:
        """:meth:`request`, and when the reply reached this process's event loop (``time.monotonic``)."""
        future = self._send(data)
        try:
            reply = await future
        finally:
            arrived = self._arrived.pop(future, 0.0)
        if reply[:1] == _OK:
            return reply[1:], arrived
        raise RuntimeError(f"the host's embedder failed: {reply[1:].decode('utf-8', 'replace')}")

    def _send(self, data: bytes) -> asyncio.Future[bytes]:
        if self._transport is None or self._transport.is_closing():
            raise EmbedderUnavailableError("the direct channel to the host's embedder is closed")
        assert self.loop is not None
        future: asyncio.Future[bytes] = self.loop.create_future()
        self._waiting.append(future)
        self._transport.write(_frame(data))
        return future

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        self._buffer += data
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < _LENGTH.size + length:
                return
            frame = bytes(self._buffer[_LENGTH.size : _LENGTH.size + length])
            del self._buffer[: _LENGTH.size + length]
            if not self._waiting:  # a reply no one asked for: the stream is out of step
                self.close()
                return
            future = self._waiting.popleft()
            if not future.done():  # its caller may have stopped waiting (a recall's deadline)
                self._arrived[future] = arrived
                future.set_result(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(EmbedderUnavailableError("the direct channel to the host's embedder was lost"))
