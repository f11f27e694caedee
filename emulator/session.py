"""One open connection, as the gateway holds it: what waits to be sent to its client,
and what its client sent that waits to be run, both bounded.

Frames from one connection run concurrently, as API Gateway invokes a route
concurrently even for one connection; but only :attr:`Limits.queued_frames` of them
(and :attr:`Limits.queued_bytes`) may be waiting or running at once, and only while the
client reads what it is sent. Past that the gateway stops reading the connection: its
frames wait in the client's own buffers, and a flood costs the gateway nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket as sockets
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from emulator.events import ConnectionInfo
from emulator.quotas import Limits

# What the kernel may hold of one client's frames that the gateway hasn't read. Left to
# Linux, a receive buffer grows to net.ipv4.tcp_rmem's maximum (32 MB here) while a
# connection's queue is full: a flooding client then writes megabytes before its send
# waits, and the machine spends its time copying frames that wait for minutes.
RECEIVE_BUFFER = 64 * 1024


class ClientConnection(ServerConnection):
    """A client's WebSocket connection that, when the client resets it, still reads the
    frames its client sent before the reset.

    This machine's TCP acknowledged those frames, so for the client they were sent; but
    asyncio forgets a socket's unread bytes when a write to it fails, and a write often
    comes first: a task that posts to the client (a broadcast) runs in the same loop
    round as the read of frames that arrived just before the reset, and ahead of it. The
    socket is still open when ``connection_lost`` runs, so its unread bytes (at most
    :data:`RECEIVE_BUFFER`) are read there and parsed as if they had arrived in time; the
    gateway then reads those frames before it hears the connection is closed.
    """

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError):  # the peer reset; not a close of ours (exc None)
            for data in _unread(self.transport):
                self.data_received(data)
        super().connection_lost(exc)


def _unread(transport: asyncio.BaseTransport) -> Iterator[bytes]:
    """What the kernel still holds of what the peer sent on ``transport``'s socket."""
    raw = transport.get_extra_info("socket")
    if raw is None or raw.fileno() < 0:
        return
    while True:
        try:
            data = os.read(raw.fileno(), RECEIVE_BUFFER)  # non-blocking, as asyncio set it
        except OSError:  # nothing more for now, or the reset itself once read up to it
            return
        if not data:
            return
        yield data


class OutboxFull(Exception):
    """A client reads too slowly: its outbox is full."""


class Outbox:
    """What the gateway sends one connection, in order, as encoded bytes.

    A post is accepted once queued, as on AWS: a client that reads slowly must not hold
    up the handler posting to it. What is queued is bounded by ``limit`` bytes; the
    gateway's own short replies may go past it (``force``), and ``on_sent`` hears each
    time a frame has gone out.
    """

    def __init__(self, limit: int, on_sent: Callable[[], None] = lambda: None) -> None:
        self.limit = limit
        self.queued = 0
        self.on_sent = on_sent
        self._queue: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue()

    def put(self, data: bytes, text: bool, force: bool = False) -> None:
        """Queue one frame; ``force`` is for the gateway's own short replies."""
        if not force and self.queued + len(data) > self.limit:
            raise OutboxFull(f"{self.queued} bytes are waiting for this client")
        self.queued += len(data)
        self._queue.put_nowait((data, text))

    def put_text(self, text: str) -> None:
        self.put(text.encode(), text=True, force=True)

    @property
    def full(self) -> bool:
        return self.queued > self.limit

    async def drain(self, socket: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                data, text = await self._queue.get()
                try:
                    await socket.send(data, text=text)
                finally:
                    self.queued -= len(data)
                    self.on_sent()


@dataclass
class Session:
    """An open connection: its client's details, socket, outbox and frames in flight."""

    info: ConnectionInfo
    socket: ServerConnection
    last_active_ms: int
    limits: Limits
    outbox: Outbox = field(init=False)
    closed_by_server: tuple[int, str] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    queued_bytes: int = 0
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.limits.outbox_bytes, on_sent=self._wake)
        self._room.set()
        raw = self.socket.transport.get_extra_info("socket")
        if raw is not None:
            raw.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, RECEIVE_BUFFER)

    def has_room(self) -> bool:
        """Whether the gateway may read another frame from this client now."""
        return (
            len(self.tasks) < self.limits.queued_frames
            and self.queued_bytes < self.limits.queued_bytes
            and not self.outbox.full
        )

    async def room(self) -> None:
        """Wait until :meth:`has_room`."""
        while not self.has_room():
            self._room.clear()
            await self._room.wait()

    def run(self, frame: Coroutine[Any, Any, None], size: int) -> None:
        """Handle one frame of ``size`` bytes in a task of its own, counted until done."""
        task = asyncio.create_task(frame)
        self.tasks.add(task)
        self.queued_bytes += size

        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.queued_bytes -= size
            self._wake()

        task.add_done_callback(done)

    def _wake(self) -> None:
        if self.has_room():
            self._room.set()
