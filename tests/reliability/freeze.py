"""Faults for the reliability tier: freezing a function between its checks and its
write (for the race tests), and acting at random intervals (kills, freezes).

A :class:`WriteGate` stands in front of the embedded AWS (moto's server, where DynamoDB
lives) and holds the first DynamoDB write whose request carries a marker (a message id,
a member's key) until the test releases it: the function that sent it is stopped exactly
where a race hurts, after every read and check it made and before its write. Meanwhile
the test runs the competing action to its end, or part of the way, then lets the write
go after a chosen delay.

Nothing is added to the harness for this: the gate wraps the WSGI application of the
harness's own moto server, as ``test_faults.py``'s stall does, and is taken away after.
"""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from emulator.harness import Harness
from tests.timing import seconds

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@dataclass
class Hold:
    """One write to hold: the first whose request body contains ``marker``."""

    marker: bytes
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    operation: str = ""  # the held write's operation, once it arrived


class WriteGate:
    """WSGI middleware that holds DynamoDB writes carrying a marker until released."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._armed: list[Hold] = []
        self._lock = threading.Lock()

    def hold(self, marker: str) -> Hold:
        """Hold the next write that carries ``marker`` (once)."""
        hold = Hold(marker.encode())
        with self._lock:
            self._armed.append(hold)
        return hold

    def release_all(self) -> None:
        with self._lock:
            armed, self._armed = self._armed, []
        for hold in armed:
            hold.released.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
        if operation in WRITES and self._armed:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            hold = self._claim(body)
            if hold is not None:
                hold.operation = operation
                hold.arrived.set()
                hold.released.wait(seconds(60))
        return self.app(environ, start_response)

    def _claim(self, body: bytes) -> Hold | None:
        with self._lock:
            for hold in self._armed:
                if hold.marker in body:
                    self._armed.remove(hold)
                    return hold
        return None


@contextmanager
def write_gate(harness: Harness) -> Iterator[WriteGate]:
    """The harness's moto server with a :class:`WriteGate` in front, for a ``with``."""
    assert harness.control_plane is not None
    server = harness.control_plane._server._server  # moto's werkzeug server
    gate = WriteGate(server.app)
    server.app = gate
    try:
        yield gate
    finally:
        gate.release_all()
        server.app = gate.app


@contextmanager
def every(interval: tuple[float, float], act: Callable[[], int]) -> Iterator[list[int]]:
    """Run ``act`` at random intervals in a thread for the length of a ``with``; yields
    the list its results are added to."""
    done = threading.Event()
    counts: list[int] = []
    rng = random.Random(13)

    def loop() -> None:
        while not done.wait(rng.uniform(*interval)):
            counts.append(act())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        done.set()
        thread.join()
