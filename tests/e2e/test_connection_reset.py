"""A client that resets its connection right after sending: the gateway's connection
reads every frame this machine's TCP took from it, even when the gateway writes to the
connection (a broadcast) before it gets to read them."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.session import ClientConnection
from tests.client import reset
from tests.timing import seconds

FRAMES = [f"frame {n}" for n in range(5)]


def frames_read(connection_class: type[ServerConnection]) -> list[str]:
    """The frames a server of ``connection_class`` reads from a client that sends
    :data:`FRAMES` and resets, when the server's loop is busy meanwhile and its next
    move on the connection is a write."""
    listening, client_gone = threading.Event(), threading.Event()
    ports: list[int] = []
    read: list[str] = []
    handled = asyncio.Event()

    async def handler(connection: ServerConnection) -> None:
        # The loop is blocked here (no await) while the frames and the reset arrive,
        # so the write below is the connection's first move after both.
        client_gone.wait(seconds(10))
        with contextlib.suppress(ConnectionClosed):
            await connection.send("a broadcast")  # the reset socket refuses it
        with contextlib.suppress(ConnectionClosed):
            async for frame in connection:
                read.append(str(frame))
        handled.set()

    async def serve_one_client() -> None:
        async with serve(handler, "127.0.0.1", 0, create_connection=connection_class) as server:
            ports.append(server.sockets[0].getsockname()[1])
            listening.set()
            async with asyncio.timeout(seconds(15)):
                await handled.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve_one_client(),))
    thread.start()
    assert listening.wait(seconds(10))
    with connect(f"ws://127.0.0.1:{ports[0]}") as client:
        for frame in FRAMES:
            client.send(frame)
        reset(client.socket)
    client_gone.set()
    thread.join(seconds(20))
    return read


def test_frames_sent_before_a_reset_are_read_though_a_write_fails_first() -> None:
    assert frames_read(ClientConnection) == FRAMES


def test_without_it_asyncio_forgets_them() -> None:
    """The premise: websockets' own connection loses those frames (asyncio drops a
    socket's unread bytes when a write fails). If this starts failing, asyncio or
    websockets changed, and ClientConnection may no longer be needed."""
    assert frames_read(ServerConnection) == []
