"""A chat client for tests: a real WebSocket connection speaking the chat's protocol."""

from __future__ import annotations

import fcntl
import json
import secrets
import socket
import struct
import termios
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

from websockets.sync.client import ClientConnection, connect

from tests.timing import seconds, settles


class ChatClient:
    """One user's connection. ``events`` keeps what arrived but wasn't waited for yet."""

    def __init__(self, url: str, name: str, key: str | None = None) -> None:
        self.name = name
        self.key = key or secrets.token_hex(16)
        self.url = url
        self.events: list[dict[str, Any]] = []
        self._exit = ExitStack()
        self.socket: ClientConnection = self._exit.enter_context(
            connect(
                f"{url}?{urlencode({'name': name, 'key': self.key})}",
                open_timeout=seconds(30),
                max_queue=None,  # keeps reading even when nobody waits: a bystander's inbox
            )
        )
        hello = self.request("listRooms", expect="rooms")
        assert hello["type"] == "rooms", hello
        self.user_id: str = hello["userId"]

    def send(self, action: str | None = None, **payload: Any) -> None:
        if action is not None:
            payload["action"] = action
        self.socket.send(json.dumps(payload))

    def send_raw(self, data: str | bytes) -> None:
        self.socket.send(data)

    def wait_for(
        self,
        kind: str,
        where: Callable[[dict[str, Any]], bool] = lambda event: True,
        timeout: float = 10,
        **match: Any,
    ) -> dict[str, Any]:
        """The first event of type ``kind`` with the given fields (and ``where`` true)."""
        for i, event in enumerate(self.events):
            if _matches(event, kind, match) and where(event):
                return self.events.pop(i)
        while True:
            event = json.loads(self.socket.recv(timeout=seconds(timeout)))
            if _matches(event, kind, match) and where(event):
                return event
            self.events.append(event)

    def request(self, action: str, expect: str, **payload: Any) -> dict[str, Any]:
        """Send with a fresh ``ref`` and wait for the reply (or error) that carries it."""
        ref = secrets.token_hex(4)
        self.send(action, ref=ref, **payload)
        while True:
            event = self.wait_for_ref(ref)
            if event["type"] in (expect, "error"):
                return event

    def wait_for_ref(self, ref: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("ref") == ref:
                return self.events.pop(i)
        while True:
            event = json.loads(self.socket.recv(timeout=seconds(10)))
            if event.get("ref") == ref:
                return event
            self.events.append(event)

    def listen(self, quiet: float = 0.02) -> list[dict[str, Any]]:
        """``events``, after reading into it whatever arrives until ``quiet`` seconds
        pass with nothing (no round trip: for polling while other work is in flight)."""
        try:
            while True:
                self.events.append(json.loads(self.socket.recv(timeout=quiet)))
        except TimeoutError:
            return self.events

    def drain(self) -> list[dict[str, Any]]:
        """Everything received so far, after a round trip proves nothing else is in flight."""
        self.request("listRooms", expect="rooms")
        drained, self.events = self.events, []
        return drained

    def drop(self) -> None:
        """Reset the TCP connection, no close frame, once the server's TCP has taken
        every frame sent (see :func:`reset`)."""
        reset(self.socket.socket)

    def close(self) -> None:
        self._exit.close()


def reset(raw: socket.socket) -> None:
    """Reset ``raw``'s TCP connection once the peer's TCP has acknowledged every byte
    written to it. Bytes still in this machine's send queue when a connection is reset
    never leave it (on a loaded machine the last frames often still wait there), so no
    server could read them; what the server's TCP took, the gateway must not lose."""
    assert settles(lambda: _unacknowledged(raw) == 0), "the server never took the frames"
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def _unacknowledged(raw: socket.socket) -> int:
    """Bytes written to ``raw`` that the peer's TCP hasn't acknowledged (SIOCOUTQ)."""
    out = fcntl.ioctl(raw.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", out)[0])


def _matches(event: dict[str, Any], kind: str, match: dict[str, Any]) -> bool:
    return event.get("type") == kind and all(event.get(k) == v for k, v in match.items())
