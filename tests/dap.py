"""A small Debug Adapter Protocol client, as an IDE speaks it to debugpy, for the tests.

Messages are JSON bodies after a ``Content-Length`` header (the DAP base protocol);
requests carry a ``seq`` and their responses name it as ``request_seq``. A reader
thread files every message: responses by the request they answer, events in order.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from typing import Any

from tests.timing import seconds


class DapError(Exception):
    """The debuggee answered a request with ``success: false``, or not in time."""


class DapClient:
    """Connected to a debug adapter at ``host:port``; close it to detach."""

    def __init__(self, host: str, port: int, timeout: float = 10) -> None:
        self._socket = socket.create_connection((host, port), timeout=seconds(timeout))
        self._socket.settimeout(None)
        self._seq = 0
        self._lock = threading.Lock()
        self._responses: dict[int, dict[str, Any]] = {}
        self._answered = threading.Condition()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10) -> DapClient:
        """Connect, retrying while nothing listens yet (a worker starting)."""
        deadline = time.monotonic() + seconds(timeout)
        while True:
            try:
                return cls(host, port, timeout)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _read(self) -> None:
        stream = self._socket.makefile("rb")
        try:
            while True:
                length = 0
                while (header := stream.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if header == b"":
                    return
                message = json.loads(stream.read(length))
                if message.get("type") == "response":
                    with self._answered:
                        self._responses[message["request_seq"]] = message
                        self._answered.notify_all()
                elif message.get("type") == "event":
                    self.events.put(message)
        except OSError:
            return

    def send(self, command: str, **arguments: Any) -> int:
        """Send a request without waiting; returns its seq (see :meth:`response`)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            body = json.dumps(
                {"seq": seq, "type": "request", "command": command, "arguments": arguments}
            ).encode()
            self._socket.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

    def response(self, seq: int, timeout: float = 10) -> dict[str, Any]:
        """The response to request ``seq``; DapError if it failed or didn't come."""
        deadline = time.monotonic() + seconds(timeout)
        with self._answered:
            while seq not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DapError(f"no response to request {seq} in time")
                self._answered.wait(left)
            message = self._responses.pop(seq)
        if not message.get("success"):
            raise DapError(f"{message.get('command')}: {message.get('message')}")
        return dict(message.get("body") or {})

    def request(self, command: str, timeout: float = 10, **arguments: Any) -> dict[str, Any]:
        """Send a request and wait for its response's body."""
        return self.response(self.send(command, **arguments), timeout)

    def event(self, name: str, timeout: float = 10) -> dict[str, Any]:
        """The next event called ``name`` (earlier events of other names are kept aside)."""
        for index, seen in enumerate(self._seen):
            if seen.get("event") == name:
                return dict(self._seen.pop(index).get("body") or {})
        deadline = time.monotonic() + seconds(timeout)
        while True:
            try:
                message = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise DapError(f"no {name!r} event in time") from None
            if message.get("event") == name:
                return dict(message.get("body") or {})
            self._seen.append(message)

    def attach(
        self, path_mappings: list[dict[str, str]], breakpoints: dict[str, list[int]]
    ) -> None:
        """An IDE's attach: initialize, attach, set breakpoints, configurationDone."""
        self.request("initialize", adapterID="debugpy", clientID="tests", linesStartAt1=True)
        attach = self.send("attach", pathMappings=path_mappings, justMyCode=True)
        self.event("initialized")
        for path, lines in breakpoints.items():
            body = self.request(
                "setBreakpoints",
                source={"path": path},
                breakpoints=[{"line": line} for line in lines],
            )
            if not all(b.get("verified") for b in body.get("breakpoints", [])):
                raise DapError(f"breakpoints in {path} not verified: {body}")
        self.request("configurationDone")
        self.response(attach)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
