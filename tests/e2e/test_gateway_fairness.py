"""The gateway under floods: each function's workers shared fairly by connection, a
bounded queue of frames per connection, and @connections out of reach of web pages."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.sync.client import ClientConnection, connect

from emulator.harness import Harness
from emulator.runner import MAX_WORKERS_PER_FUNCTION
from emulator.websocket_api import WebSocketApi
from tests.timing import seconds

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "template.yaml"
TOKEN = "let-me-in"  # the template's default Token parameter

pytestmark = pytest.mark.websocket_api(template=TEMPLATE, isolation="module")


@pytest.fixture
def api(websocket_api: WebSocketApi) -> Harness:
    return websocket_api.harness


def url(api: Harness) -> str:
    assert api.gateway is not None
    return f"{api.gateway.url}?{urlencode({'token': TOKEN})}"


def slow_function(api: Harness) -> str:
    """The runner's name for the function of the ``slow`` route."""
    assert api.runner is not None
    return next(name for name, spec in api.runner.functions.items() if spec.handler == "probe.slow")


def slow(ws: ClientConnection, tag: str, pause: float) -> None:
    ws.send(json.dumps({"meta": {"action": "slow"}, "seconds": pause, "tag": tag}))


class Answers:
    """Reads one connection's answers on a thread of its own, as they arrive."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.tags: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for frame in self.ws:
            self.tags.append(str(json.loads(frame).get("tag")))

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + seconds(60)
        while len(self.tags) < count:
            assert time.monotonic() < deadline, self.tags
            time.sleep(0.01)


@contextmanager
def sampled(probe: Callable[[], int]) -> Iterator[list[int]]:
    """Samples ``probe()`` every few milliseconds on a thread while inside."""
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(probe())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def test_a_flooding_connection_does_not_hold_every_worker(api: Harness) -> None:
    """30 slow frames from one connection, then one frame from another: the second is
    answered after the flood's first round of workers, not after all 30."""
    with connect(url(api)) as flood_ws, connect(url(api)) as other_ws:
        flood = Answers(flood_ws)
        for n in range(30):
            slow(flood_ws, f"flood{n}", 0.4)
        time.sleep(0.2)  # the flood is read and its first invocations run
        slow(other_ws, "other", 0)
        assert json.loads(other_ws.recv(timeout=seconds(30)))["tag"] == "other"
        answered_before = len(flood.tags)
        flood.wait_for(30)
    # The first 8 run together and end together; first come, first served, it was 30.
    assert answered_before <= MAX_WORKERS_PER_FUNCTION + 2


def test_a_function_runs_at_most_its_workers_at_once(api: Harness) -> None:
    """Twelve connections each send a slow frame: eight run at once, the rest wait."""
    assert api.gateway is not None
    scheduler, function = api.gateway.scheduler, slow_function(api)
    with ExitStack() as stack:
        sockets = [stack.enter_context(connect(url(api))) for _ in range(12)]
        with sampled(lambda: scheduler.busy(function)) as busy:
            for n, ws in enumerate(sockets):
                slow(ws, f"c{n}", 0.5)
            for ws in sockets:
                assert "tag" in json.loads(ws.recv(timeout=seconds(30)))
    assert max(busy) == MAX_WORKERS_PER_FUNCTION


def test_a_connections_frames_wait_in_a_bounded_queue(api: Harness) -> None:
    """With room for 3 frames per connection, a client writing 20 has at most 3 waiting
    or running at once; the gateway reads the rest as they finish, and answers all."""
    assert api.gateway is not None
    gateway, function = api.gateway, slow_function(api)
    scheduler = gateway.scheduler
    limits = gateway.limits
    gateway.limits = replace(limits, queued_frames=3)  # for connections opened from now
    try:
        with (
            connect(url(api)) as ws,
            sampled(lambda: scheduler.busy(function) + scheduler.waiting(function)) as in_flight,
        ):
            answers = Answers(ws)
            for n in range(20):
                slow(ws, f"q{n}", 0.05)
            answers.wait_for(20)
    finally:
        gateway.limits = limits
    assert sorted(answers.tags) == sorted(f"q{n}" for n in range(20))
    assert 0 < max(in_flight) <= 3


# --- @connections and web pages -------------------------------------------------------------


def management(api: Harness, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """A request to @connections as a browser would make it, with these headers."""
    assert api.gateway is not None
    port = api.gateway.connections_port
    context = ssl.create_default_context(cafile=str(api.gateway.certificates.ca_path))
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=30)
    try:
        connection.putrequest(method, "/test/@connections/someone", skip_host=True)
        for name, value in {"Host": f"localhost:{port}", **headers}.items():
            connection.putheader(name, value)
        body = b"data" if method == "POST" else b""
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Host": "rebound.evil.example"},
    ],
    ids=["origin", "null-origin", "cross-site", "same-site", "rebound-host"],
)
@pytest.mark.parametrize("method", ["POST", "DELETE", "GET"])
def test_web_pages_cannot_use_connections(
    api: Harness, method: str, headers: dict[str, Any]
) -> None:
    """A request from a web page (foreign Origin or Sec-Fetch-Site, or a rebound Host) is
    refused with 403 ForbiddenException and no CORS header."""
    status, answer = management(api, method, headers)
    assert status == 403
    assert answer["x-amzn-ErrorType"] == "ForbiddenException"
    assert not any(name.lower().startswith("access-control-") for name in answer)


def test_programs_still_use_connections(api: Harness) -> None:
    """The same request without a web page's headers is served (410: no such id)."""
    assert management(api, "POST", {})[0] == 410
