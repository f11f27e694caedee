"""The floor: the least a WebSocket broadcast can cost here, with no AWS in the way.

    python -m bench.floor     # prints {"url": "ws://127.0.0.1:PORT/bench"}

The same protocol as the bench's handler (``?room=`` on connect, ``broadcast``
messages), served by one ``websockets`` process that writes each message straight to
the room's sockets. It stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.serving import announce, until_stopped


async def main() -> None:
    rooms: dict[str, set[ServerConnection]] = {}

    async def session(socket: ServerConnection) -> None:
        assert socket.request is not None
        query = parse_qs(urlsplit(socket.request.path).query)
        members = rooms.setdefault(query.get("room", ["lobby"])[0], set())
        members.add(socket)
        try:
            async for frame in socket:
                body = json.loads(frame)
                if body.get("action") == "broadcast":
                    broadcast(rooms.get(body.get("room"), ()), str(body.get("data", "")))
        finally:
            members.discard(socket)

    async with serve(session, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        announce({"url": f"ws://127.0.0.1:{port}/bench"})
        await until_stopped()


if __name__ == "__main__":
    asyncio.run(main())
