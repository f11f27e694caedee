"""The inspector's page in Chromium: it follows a session live, its actions work, axe-core
finds nothing serious, and a load of 1,000 connections leaves its memory bounded.

The stack is ``tests/fixtures/inspect/`` (echo, fan-out, fail), with the page served for
the fixture's harness by the ``inspector`` fixture.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from emulator.inspector.record import RecordLimits
from emulator.inspector.server import InspectorServer
from emulator.pytest_plugin import WebSocketApi
from emulator.stack import Function, Route, Stack
from tests.browser.pages import TIMEOUT_MS
from tests.timing import seconds, settles

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "inspect" / "template.yaml"
pytestmark = pytest.mark.websocket_api(template=TEMPLATE, isolation="module")
GONE = "R29uZTEyMzQ1Ng=="  # an id no connection has


@pytest.fixture
def page(browser: Browser, inspector: InspectorServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(inspector.url)
    expect(page.locator("#status")).to_have_text("Live: following the emulator.")
    yield page
    context.close()


def receive(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=seconds(10)))


def whoami(ws: ClientConnection) -> str:
    ws.send(json.dumps({"action": "fanout", "targets": [], "text": ""}))
    return str(receive(ws)["you"])


def row(page: Page, table: str, *texts: str) -> Any:
    """The rows of a table that contain every one of ``texts``."""
    rows = page.locator(f"#{table} tbody tr")
    for text in texts:
        rows = rows.filter(has_text=text)
    return rows


def test_the_page_follows_a_session_live(page: Page, websocket_api: WebSocketApi) -> None:
    """Connect, frames, an error, a 410 and a disconnect appear as they happen, as recorded."""
    api = websocket_api
    # The record is the harness's, kept across the modules that share this stack: count
    # on from what is there.
    gone, failed = row(page, "calls", GONE, "410"), row(page, "invocations", "fail", "error")
    gone_before, failed_before = gone.count(), failed.count()
    with connect(api.url) as listener, connect(api.url + "?name=ann") as ws:
        ann, bob = whoami(ws), whoami(listener)
        expect(row(page, "connections", ann, "open")).to_have_count(1)
        ws.send(json.dumps({"action": "fanout", "targets": [bob, GONE], "text": "hi"}))
        assert listener.recv(timeout=seconds(10)) == "hi"
        receive(ws)
        ws.send(json.dumps({"action": "fail"}))
        assert receive(ws)["message"] == "Internal server error"
        expect(gone).to_have_count(gone_before + 1)
        expect(row(page, "calls", bob, "200").first).to_contain_text("FanoutFunction")
        expect(failed).to_have_count(failed_before + 1)
    expect(row(page, "connections", ann, "closed 1000")).to_have_count(1)

    page.get_by_label("Connection", exact=True).select_option(ann)
    frames = page.locator("#frames tbody tr")
    recorded = api.frames(ann)
    expect(frames).to_have_count(len(recorded))
    assert [f.kind if f.direction == "out" else f.route for f in reversed(recorded)] == [
        text.split("\n")[0] for text in frames.locator("td:nth-child(4)").all_inner_texts()
    ]
    expect(row(page, "frames", "error")).to_contain_text("Internal server error")
    invocations = [i for i in api.invocations(connection=ann)]
    expect(page.locator("#invocations tbody tr")).to_have_count(len(invocations))
    expect(page.locator("#connection-detail")).to_contain_text("name")
    expect(page.locator("#connection-detail")).to_contain_text("ann")

    page.get_by_label("Outcome").select_option("failed")
    expect(page.locator("#invocations tbody tr")).to_have_count(1)
    expect(page.locator("#invocations tbody tr")).to_contain_text("fail")


def test_the_pages_actions_send_replay_and_disconnect(
    page: Page, websocket_api: WebSocketApi
) -> None:
    """Send a frame as a connection, replay the invocation it caused, then disconnect it."""
    with connect(websocket_api.url) as ws:
        me = whoami(ws)
        row(page, "connections", me).get_by_role("button", name=f"Show connection {me}").click()
        sent = json.dumps({"action": "echo", "typed": "in the inspector"})
        page.get_by_label(f"Send as connection {me}").fill(sent)
        page.get_by_role("button", name="Send", exact=True).click()
        assert ws.recv(timeout=seconds(10)) == sent  # the route's reply, to the client
        echo = row(page, "invocations", "echo", "success")
        expect(echo).to_have_count(1)
        echo.get_by_role("button").click()
        detail = page.locator("#invocation-detail")
        expect(detail).to_contain_text("in the inspector")
        detail.get_by_role("button", name="Replay its event").click()
        expect(page.locator("#replay-result")).to_contain_text("Replayed: it returned")
        expect(row(page, "invocations", "replay of")).to_have_count(1)
        page.get_by_role("button", name=f"Disconnect {me}").click()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=seconds(10))
        assert ws.close_code == 1000
    expect(row(page, "connections", me, "closed 1000")).to_have_count(1)


def test_axe_finds_nothing_serious_on_the_page(page: Page, websocket_api: WebSocketApi) -> None:
    """With traffic, a connection shown, an invocation's details and the API panel open."""
    with connect(websocket_api.url) as ws:
        me = whoami(ws)
        ws.send(json.dumps({"action": "fail"}))
        receive(ws)
        row(page, "connections", me).get_by_role("button", name=f"Show connection {me}").click()
        row(page, "invocations", "fail").get_by_role("button").click()
        expect(page.locator("#invocation-detail")).to_contain_text("ValueError")
        page.locator("#api summary").click()
        results = Axe().run(page)
        serious = [
            (v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == []


# Only a two-way echo route: connecting runs no function, and a frame for no route gets
# Forbidden from the gateway itself, so the load is the gateway's and the record's.
LOAD = Stack(
    name="inspector-load",
    stage="test",
    route_selection_expression="$request.body.action",
    functions=(
        Function("echo", "app.echo", code=TEMPLATE.parent / "src", routes=(Route("echo", True),)),
    ),
)


def churn(url: str, connections: int) -> None:
    """Open ``connections`` sockets, each sends a frame no route takes, then all close."""

    async def one() -> None:
        async with websockets.connect(url, open_timeout=seconds(60)) as ws:
            await ws.send('{"action": "none"}')
            await ws.recv()  # Forbidden: no function runs

    async def all_of_them() -> None:
        for _ in range(connections // 100):
            await asyncio.gather(*(one() for _ in range(100)))

    # In a thread of its own: Playwright's sync API holds this thread's event loop.
    thread = threading.Thread(target=lambda: asyncio.run(all_of_them()))
    thread.start()
    thread.join(seconds(300))


def heap(page: Page) -> float:
    """The page's JavaScript heap in use after a full garbage collection, in bytes."""
    session = page.context.new_cdp_session(page)
    session.send("HeapProfiler.collectGarbage")
    return float(session.send("Runtime.getHeapUsage")["usedSize"])


@pytest.mark.websocket_api(template=LOAD, isolation="test")
def test_a_load_of_1000_connections_keeps_memory_bounded(
    browser: Browser, websocket_api: WebSocketApi, inspector: InspectorServer
) -> None:
    """Rounds of 1,000 connections: the record and the page keep their limits, and the
    page's heap doesn't grow with the rounds."""
    record = websocket_api.harness.record
    assert record is not None
    record.limits = RecordLimits(closed_connections=300, frames=1000, invocations=200, calls=200)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(inspector.url)
    expect(page.locator("#status")).to_have_text("Live: following the emulator.")
    heaps = []
    for _ in range(3):
        churn(websocket_api.url, 1000)
        assert settles(lambda: all(not c.open for c in record.connections()), timeout=60)
        assert len(record.connections()) <= 300
        assert len(record.frames()) <= 1000
        expect(page.locator("#connections-count")).to_contain_text("(newest 200 of 300 kept")
        expect(page.locator("#frames-count")).to_contain_text("of 1000 kept")
        assert page.locator("#frames tbody tr").count() == 200
        heaps.append(heap(page))
    print(f"page heap after each round: {heaps}")
    assert heaps[2] < heaps[0] * 1.5 + 5e6, heaps
    context.close()
