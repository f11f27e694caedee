"""A chat client for the flood test, speaking the protocol over an asyncio connection.

Shared by the test (its bystander) and by :mod:`tests.reliability.flooders`, the process
that floods beside it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect

from tests.timing import seconds


class Peer:
    """One connection speaking the chat's protocol; it reads everything it is sent."""

    def __init__(self, name: str, key: str | None = None) -> None:
        self.name = name
        self.key = key or secrets.token_hex(16)
        self.socket: ClientConnection | None = None
        self.user_id = ""
        self.answers: Counter[str] = Counter()  # each answer's type, or error code
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self, url: str, write_limit: int = 2**15) -> None:
        """Connect and say hello; ``write_limit`` is websockets' high-water mark for
        what waits to be written before ``send`` waits."""
        query = urlencode({"name": self.name, "key": self.key})
        self.socket = await connect(
            f"{url}?{query}",
            open_timeout=seconds(60),
            max_queue=None,
            ping_interval=None,
            write_limit=write_limit,
        )
        self._reader = asyncio.create_task(self._read())
        # listRooms subscribes this connection to the user's rooms, and says who it is.
        self.user_id = str((await self.request("listRooms"))["userId"])

    async def _read(self) -> None:
        assert self.socket is not None
        async for frame in self.socket:
            event = json.loads(frame)
            if "ref" not in event and "type" in event:
                continue  # pushed to everyone: not an answer
            kind = event.get("code") or event.get("type") or event.get("message", "?")
            self.answers[str(kind)] += 1
            waiter = self._waiting.pop(str(event.get("ref")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)

    def send(self, action: str, ref: str | None = None, **payload: Any) -> Any:
        assert self.socket is not None
        return self.socket.send(json.dumps({"action": action, "ref": ref, **payload}))

    async def request(self, action: str, **payload: Any) -> dict[str, Any]:
        ref = secrets.token_hex(6)
        answer = self._waiting[ref] = asyncio.get_running_loop().create_future()
        await self.send(action, ref, **payload)
        return await asyncio.wait_for(answer, seconds(120))

    @property
    def answered(self) -> int:
        return sum(self.answers.values())

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def abort(self) -> None:
        """Drop the connection without a closing handshake, as a killed client does
        (a flooder's close would wait behind thousands of unread frames)."""
        if self.socket is not None:
            self.socket.transport.abort()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def room_of(peer: Peer, name: str) -> str:
    """A new room of ``peer``'s, by its id."""
    reply = await peer.request("createRoom", name=name)
    assert reply["type"] == "roomCreated", reply
    return str(reply["room"]["roomId"])


def message(room_id: str) -> dict[str, Any]:
    """A ``sendMessage`` payload for ``room_id`` with a fresh id."""
    return {"roomId": room_id, "messageId": secrets.token_hex(8), "text": "flood"}
