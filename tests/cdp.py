"""A small Chrome DevTools Protocol client, as VS Code or DevTools speaks it to node --inspect.

``node --inspect=HOST:PORT`` lists its targets at ``http://HOST:PORT/json/list``; each
has a ``webSocketDebuggerUrl``. Commands are JSON messages with an ``id`` that their
result names; events carry a ``method``. A reader thread files every message (a paused
frame names its script by id: ``scripts`` maps the ids to URLs).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import urllib.request
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.timing import seconds


class CdpError(Exception):
    """A command failed, or an answer or event didn't come in time."""


def targets(host: str, port: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The inspector's ``/json/list``, retrying while nothing listens yet (a worker starting)."""
    deadline = time.monotonic() + seconds(timeout)
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/json/list", timeout=5) as answer:
                return list(json.loads(answer.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class CdpClient:
    """Connected to one target's WebSocket; close it to detach."""

    def __init__(self, url: str) -> None:
        self._socket: ClientConnection = connect(
            url, max_size=None, open_timeout=seconds(10)
        ).__enter__()
        self._id = 0
        self._lock = threading.Lock()
        self._results: dict[int, dict[str, Any]] = {}
        self._answered = threading.Condition()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._seen: list[dict[str, Any]] = []
        self.scripts: dict[str, str] = {}  # URL by script id, from Debugger.scriptParsed
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def attach(cls, host: str, port: int, timeout: float = 30) -> CdpClient:
        """Connect to the inspector's (only) target, as an IDE attaching does."""
        (target,) = targets(host, port, timeout)
        return cls(target["webSocketDebuggerUrl"])

    def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            for text in self._socket:
                message = json.loads(text)
                if "id" in message:
                    with self._answered:
                        self._results[message["id"]] = message
                        self._answered.notify_all()
                elif message.get("method") == "Debugger.scriptParsed":
                    self.scripts[message["params"]["scriptId"]] = message["params"]["url"]
                else:
                    self.events.put(message)

    def command(self, method: str, timeout: float = 10, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result."""
        with self._lock:
            self._id += 1
            ident = self._id
            self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + seconds(timeout)
        with self._answered:
            while ident not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError(f"no answer to {method} in time")
                self._answered.wait(left)
            message = self._results.pop(ident)
        if "error" in message:
            raise CdpError(f"{method}: {message['error']}")
        return dict(message.get("result") or {})

    def event(self, method: str, timeout: float = 10) -> dict[str, Any]:
        """The next event called ``method`` (earlier events of other names are kept aside)."""
        for index, seen in enumerate(self._seen):
            if seen.get("method") == method:
                return dict(self._seen.pop(index).get("params") or {})
        deadline = time.monotonic() + seconds(timeout)
        while True:
            try:
                message = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise CdpError(f"no {method} event in time") from None
            if message.get("method") == method:
                return dict(message.get("params") or {})
            self._seen.append(message)

    def close(self) -> None:
        self._socket.close()
