"""The inspector's record of Node.js functions (workers speaking the Runtime API).

The stack is ``tests/fixtures/templates/nodejs-chat/``: AWS's sample chat in ES modules
on the SDK for JavaScript v3, whose ``sendmessage`` posts to every connection it has
stored and deletes one that ``@connections`` says is gone (410).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.sync.client import connect

from emulator import nodejs
from emulator.websocket_api import WebSocketApi
from tests.timing import seconds, settles

TEMPLATE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "templates" / "nodejs-chat" / "template.yaml"
)
pytestmark = [
    pytest.mark.skipif(nodejs.find_node() is None, reason="Node.js is not installed"),
    pytest.mark.websocket_api(template=TEMPLATE, stage="Prod", isolation="module"),
]


def test_a_node_broadcast_is_recorded_with_its_posts_and_its_log(
    websocket_api: WebSocketApi,
) -> None:
    """The Node.js invocation, the line it logged, and each @connections call it made
    (named by its worker's TCP connection), a 410 among them."""
    api = websocket_api
    dynamodb = api.client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    with connect(api.url) as ann, connect(api.url) as bob:
        dynamodb.put_item(TableName=table, Item={"connectionId": {"S": "gone0000000="}})
        ann.send(json.dumps({"action": "sendmessage", "data": "hello"}))
        for ws in (ann, bob):
            assert ws.recv(timeout=seconds(30)) == "hello"
        assert settles(lambda: api.invocations(route="sendmessage")[0].outcome != "running")
        (sent,) = api.invocations(route="sendmessage")
        assert sent.outcome == "success"
        assert any("sent to 2, deleted 1 gone" in line for line in sent.logs)
        calls = api.calls(by=sent)
        assert sorted(call.status for call in calls) == [200, 200, 410]
        assert {call.method for call in calls} == {"POST"}
        assert all(call.function == sent.function for call in calls)
