"""The inspector's record through the pytest fixture, and its stream and actions over a socket.

The stack is ``tests/fixtures/inspect/``: routes that echo (two-way), fan out to other
connections through ``@connections``, fail, and double a number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from emulator.inspector.server import InspectorServer
from emulator.websocket_api import WebSocketApi
from tests.timing import seconds, settles

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "inspect" / "template.yaml"
pytestmark = pytest.mark.websocket_api(template=TEMPLATE, isolation="module")


def receive(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=seconds(10)))


def connection_id(ws: ClientConnection) -> str:
    """The id the gateway gave this client: the fan-out handler, which sees it, says."""
    ws.send(json.dumps({"action": "fanout", "targets": [], "text": ""}))
    return str(receive(ws)["you"])


def test_a_session_is_recorded_as_it_happened(websocket_api: WebSocketApi) -> None:
    """Connect, a fan-out with a 410, an error, a two-way echo, a close: all in the record."""
    api = websocket_api
    with connect(api.url) as listener:
        with connect(api.url + "?name=ann", user_agent_header="inspector-tests") as ws:
            ann = connection_id(ws)
            bob = connection_id(listener)
            ws.send(json.dumps({"action": "fanout", "targets": [bob, "R29uZQ=="], "text": "hi"}))
            assert listener.recv(timeout=seconds(10)) == "hi"
            assert receive(ws) == {"posted": {bob: 200, "R29uZQ==": 410}, "you": ann}
            ws.send(json.dumps({"action": "fail"}))
            assert receive(ws)["message"] == "Internal server error"
            ws.send(json.dumps({"action": "echo", "n": 1}))
            assert receive(ws) == {"action": "echo", "n": 1}
        assert settles(lambda: api.invocations(route="$disconnect", connection=ann))
    assert settles(lambda: all(i.outcome != "running" for i in api.invocations()))

    (connection,) = [c for c in api.connections if c.id == ann]
    assert connection.query == (("name", "ann"),)
    assert connection.user_agent == "inspector-tests"
    assert (connection.close_code, connection.open) == (1000, False)
    assert (connection.frames_in, connection.frames_out) == (4, 4)

    frames = [(f.direction, f.kind, f.route) for f in api.frames(ann)]
    assert frames == [
        ("in", "message", "fanout"),
        ("out", "post", None),  # {"posted": {}}
        ("in", "message", "fanout"),
        ("out", "post", None),  # {"posted": {bob: 200, gone: 410}}
        ("in", "message", "fail"),
        ("out", "error", None),
        ("in", "message", "echo"),
        ("out", "reply", None),
    ]
    assert all(f.units == 1 for f in api.frames(ann))

    fanouts = api.invocations(route="fanout", connection=ann)
    assert [i.outcome for i in fanouts] == ["success", "success"]
    posts = api.calls(by=fanouts[1])
    assert sorted((c.method, c.connection_id, c.status) for c in posts) == sorted(
        [("POST", bob, 200), ("POST", "R29uZQ==", 410), ("POST", ann, 200)]
    )
    assert all(c.function == api.functions["FanoutFunction"] for c in posts)
    assert json.loads(fanouts[1].event["body"])["targets"] == [bob, "R29uZQ=="]
    assert any("fanout" in line for line in fanouts[1].logs)

    (failed,) = api.invocations(route="fail")
    assert failed.outcome == "error"
    assert failed.error == "ValueError: the handler fails on purpose"
    (echoed,) = api.invocations(function="EchoFunction")
    assert echoed.result == {"statusCode": 200, "body": '{"action": "echo", "n": 1}'}
    assert echoed.logs == ['echo {"action": "echo", "n": 1}']
    assert echoed.duration_ms is not None
    assert echoed.billed_ms == int(echoed.duration_ms) + 1
    (connected,) = api.invocations(route="$connect", connection=ann)
    assert connected.logs == [f"connected {ann}"]


def test_a_message_over_32_kb_is_billed_as_two_units(websocket_api: WebSocketApi) -> None:
    """A 40 KB message sent as two frames is one message of two 32 KB units, each way."""
    api = websocket_api
    text = json.dumps({"action": "echo", "pad": "x" * 40_000})
    with connect(api.url, max_size=None) as ws:
        ws.send([text[:30_000], text[30_000:]])  # fragments, each under the 32 KB frame limit
        assert ws.recv(timeout=seconds(10)) == text
    inbound, outbound = api.frames()[-2:]
    assert (inbound.size, inbound.units, inbound.route) == (len(text), 2, "echo")
    assert (outbound.size, outbound.units, outbound.kind) == (len(text), 2, "reply")
    assert inbound.truncated
    assert len(inbound.data) == 16 * 1024


# --- the inspector's own server --------------------------------------------------------


class Stream:
    """The inspector's stream as the page reads it."""

    def __init__(self, server: InspectorServer) -> None:
        self.ws = connect(f"ws://127.0.0.1:{server.port}/stream", max_size=None).__enter__()
        self.hello = json.loads(self.ws.recv(timeout=seconds(10)))
        self.seen: list[dict[str, Any]] = list(self.hello["entries"])
        self._id = 0

    def until(self, found: Any, timeout: float = 10) -> dict[str, Any]:
        """The first entry (seen or arriving) for which ``found(entry)`` holds."""
        for entry in self.seen:
            if found(entry):
                return entry
        while True:
            message = json.loads(self.ws.recv(timeout=seconds(timeout)))
            if message["type"] == "entries":
                self.seen += message["entries"]
                for entry in message["entries"]:
                    if found(entry):
                        return dict(entry)

    def ask(self, action: str, **fields: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "action": action, **fields}))
        while True:
            message = json.loads(self.ws.recv(timeout=seconds(20)))
            if message["type"] == "answer" and message["id"] == self._id:
                return dict(message)
            if message["type"] == "entries":
                self.seen += message["entries"]


def test_the_stream_sends_the_record_then_each_change(
    websocket_api: WebSocketApi, inspector: InspectorServer
) -> None:
    """A page first gets the API and the history, then new entries as they happen."""
    stream = Stream(inspector)
    assert stream.hello["api"]["stage"] == "test"
    assert {r["key"] for r in stream.hello["api"]["routes"]} >= {"echo", "fanout", "$connect"}
    with connect(websocket_api.url) as ws:
        me = connection_id(ws)
        ws.send(json.dumps({"action": "echo", "live": True}))
        receive(ws)
        stream.until(lambda e: e["kind"] == "connection" and e["id"] == me)
        stream.until(
            lambda e: e["kind"] == "frame" and e["route"] == "echo" and "live" in e["data"]
        )
        done = stream.until(
            lambda e: (
                e["kind"] == "invocation"
                and e["route"] == "echo"
                and e["connectionId"] == me
                and e["outcome"] == "success"
            )
        )
        detail = stream.ask("detail", invocation=done["seq"])["body"]
        assert json.loads(detail["event"]["body"]) == {"action": "echo", "live": True}
        assert detail["result"]["statusCode"] == 200
    stream.ws.close()


def test_actions_send_as_a_connection_disconnect_and_replay(
    websocket_api: WebSocketApi, inspector: InspectorServer
) -> None:
    """Send a frame as a client, replay its invocation, then disconnect the client."""
    api = websocket_api
    stream = Stream(inspector)
    with connect(api.url) as ws:
        me = connection_id(ws)
        sent = json.dumps({"action": "echo", "from": "the inspector"})
        assert stream.ask("send", connectionId=me, data=sent)["ok"]
        assert ws.recv(timeout=seconds(10)) == sent  # the two-way reply, to the client
        echo = stream.until(
            lambda e: (
                e["kind"] == "invocation"
                and e["route"] == "echo"
                and e["connectionId"] == me
                and e["outcome"] == "success"
            )
        )
        replayed = stream.ask("replay", invocation=echo["seq"])
        assert replayed["ok"]
        assert replayed["body"]["outcome"] == "success"
        assert replayed["body"]["result"]["body"] == sent
        again = stream.until(lambda e: e["kind"] == "invocation" and e["replayOf"] == echo["seq"])
        assert again["function"] == echo["function"]
        assert stream.ask("disconnect", connectionId=me)["ok"]
        with pytest.raises(Exception, match="1000"):
            ws.recv(timeout=seconds(10))
        assert ws.close_code == 1000
    closed = stream.until(lambda e: e["kind"] == "connection" and e["id"] == me and e["closedAt"])
    assert closed["closeReason"] == "Connection closed by the @connections API"
    refused = stream.ask("send", connectionId=me, data="{}")
    assert refused == {
        "type": "answer",
        "id": refused["id"],
        "ok": False,
        "error": f"connection {me} is closed",
    }
    stream.ws.close()


def test_other_origins_and_names_are_refused(inspector: InspectorServer) -> None:
    """A page of another origin can't open the stream; another Host name gets nothing."""
    url = f"ws://127.0.0.1:{inspector.port}/stream"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as misdirected:
        connect(url, additional_headers={"Host": f"rebound.example:{inspector.port}"})
    assert misdirected.value.response.status_code == 421
    with connect(url, origin=f"http://127.0.0.1:{inspector.port}") as own:  # type: ignore[arg-type]
        assert json.loads(own.recv(timeout=seconds(10)))["type"] == "hello"
