"""The gateway emulator against the AWS WebSocket contract, with probe handlers.

Every point of API Gateway's WebSocket contract that the emulator implements (listed in
docs/emulator.md) is exercised here with real WebSocket clients and real boto3 clients
in the handlers.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import os
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from emulator.api import ApiError, load_api
from emulator.gateway import Limits
from emulator.harness import Harness
from emulator.websocket_api import WebSocketApi
from tests import served
from tests.timing import seconds

SENTINEL = "CONTRACT_TEST_SENTINEL"
TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "template.yaml"
TOKEN = "let-me-in"  # the template's default Token parameter


# The package's pytest plugin deploys and serves the template; its harness lives as
# long as this module's tests run, in an account of its own.
pytestmark = pytest.mark.websocket_api(template=TEMPLATE, isolation="module")


@pytest.fixture(scope="module", autouse=True)
def sentinel() -> Iterator[None]:
    """A variable of the emulator's own environment, set before any worker starts."""
    os.environ[SENTINEL] = "must not leak into functions"
    try:
        yield
    finally:
        del os.environ[SENTINEL]


@pytest.fixture
def api(websocket_api: WebSocketApi) -> Harness:
    """The contract template's harness: its gateway and runner are what is under test."""
    return websocket_api.harness


def url(api: Harness, **query: str) -> str:
    assert api.gateway is not None
    return f"{api.gateway.url}?{urlencode({'token': TOKEN, **query})}"


def call(ws: ClientConnection, action: str, **body: Any) -> dict[str, Any]:
    ws.send(json.dumps({"meta": {"action": action}, **body}))
    return dict(json.loads(ws.recv(timeout=seconds(15))))


def report(ws: ClientConnection) -> dict[str, Any]:
    """What the echo probe saw: event, context, pid and environment."""
    return call(ws, "echo")


def recorded(api: Harness, connection_id: str, field: str) -> Any:
    """A field the probe wrote for a connection, once it is there."""
    assert api.target is not None
    assert api.outputs is not None
    table = next(name for name in api.outputs.tables.values() if name.endswith("-events"))
    dynamodb = api.target.client("dynamodb")
    deadline = time.monotonic() + seconds(15)
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=table, Key={"connection_id": {"S": connection_id}}, ConsistentRead=True
        ).get("Item", {})
        if field in item:
            value = item[field]["S"]
            return json.loads(value) if value.startswith("{") else value
        time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    raise AssertionError(f"{field} never recorded for {connection_id}")


def connection_id(ws: ClientConnection) -> str:
    return str(report(ws)["event"]["requestContext"]["connectionId"])


# --- events -------------------------------------------------------------------------


def test_events_validate_against_powertools_models(api: Harness) -> None:
    """$connect, message and $disconnect events pass the Powertools pydantic models."""
    assert api.gateway is not None
    with connect(url(api, name="ann", extra="1"), user_agent_header="contract-test/1") as ws:
        seen = report(ws)
        message = seen["event"]
        cid = message["requestContext"]["connectionId"]
    APIGatewayWebSocketMessageEventModel.model_validate(message)
    context = message["requestContext"]
    assert api.outputs is not None
    assert context["domainName"] == f"{api.outputs.api_id}.execute-api.us-east-1.amazonaws.com"
    assert context["domainName"] == api.gateway.domain_name
    assert context["stage"] == "test"
    assert context["routeKey"] == "echo"
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    assert "headers" not in message
    assert message["isBase64Encoded"] is False
    assert json.loads(message["body"]) == {"meta": {"action": "echo"}}

    connected = recorded(api, cid, "connect")
    APIGatewayWebSocketConnectEventModel.model_validate(connected)
    assert connected["queryStringParameters"] == {"token": TOKEN, "name": "ann", "extra": "1"}
    assert connected["requestContext"]["identity"]["userAgent"] == "contract-test/1"
    assert connected["requestContext"]["connectedAt"] == context["connectedAt"]
    assert connected["headers"]["User-Agent"] == "contract-test/1"

    disconnected = recorded(api, cid, "disconnect")
    APIGatewayWebSocketDisconnectEventModel.model_validate(disconnected)
    assert disconnected["requestContext"]["disconnectStatusCode"] == 1000


def test_lambda_context_is_like_aws(api: Harness) -> None:
    """The handler gets a context with AWS's attributes and a shrinking time budget."""
    with connect(url(api)) as ws:
        seen = report(ws)
    context = seen["context"]
    name = context["function_name"]
    assert "-EchoFunction-" in name
    assert uuid.UUID(context["aws_request_id"])  # Lambda's own id, not API Gateway's
    assert context["aws_request_id"] != seen["event"]["requestContext"]["requestId"]
    assert context["function_version"] == "$LATEST"
    assert api.target is not None
    assert context["invoked_function_arn"] == (
        f"arn:aws:lambda:us-east-1:{api.target.account_id()}:function:{name}"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert 0 < context["remaining_ms"] <= 10_000
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert context["log_stream_name"]


def test_each_function_sees_only_its_own_environment(api: Harness) -> None:
    """Workers get the function's variables plus Lambda's, not the gateway's."""
    with connect(url(api)) as ws:
        environment = report(ws)["environment"]
    assert api.outputs is not None
    assert environment["EVENTS_TABLE"] in api.outputs.tables.values()
    assert "-EchoFunction-" in environment["AWS_LAMBDA_FUNCTION_NAME"]
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert SENTINEL not in environment
    assert "PYTHONPATH" not in environment


# --- functions run as Lambda runs them -------------------------------------------------


def test_warm_workers_are_reused_and_invocations_run_in_parallel(api: Harness) -> None:
    """Sequential calls reuse a warm worker; concurrent ones get workers of their own."""
    with connect(url(api)) as ws:
        first, second = report(ws)["pid"], report(ws)["pid"]
        assert first == second
        for tag in ("a", "b", "c"):
            ws.send(json.dumps({"meta": {"action": "slow"}, "seconds": 0.5, "tag": tag}))
        replies = [json.loads(ws.recv(timeout=seconds(15))) for _ in range(3)]
    assert sorted(r["tag"] for r in replies) == ["a", "b", "c"]
    assert len({r["pid"] for r in replies}) == 3


def test_timeout_gives_the_aws_error_and_replaces_the_worker(api: Harness) -> None:
    """A handler past its timeout: the caller gets AWS's error, the next call works."""
    with connect(url(api)) as ws:
        warm = call(ws, "slow", seconds=0)["pid"]
        reply = call(ws, "slow", seconds=30)
        assert reply["message"] == "Internal server error"
        assert reply["connectionId"]
        assert reply["requestId"]
        after = call(ws, "slow", seconds=0)
    assert after["pid"] != warm


def test_crashing_and_failing_handlers_do_not_take_the_gateway_down(api: Harness) -> None:
    """A process exit or an exception gives Internal server error; service goes on."""
    with connect(url(api)) as ws:
        assert call(ws, "crash")["message"] == "Internal server error"
        assert call(ws, "fail")["message"] == "Internal server error"
        assert report(ws)["event"]["requestContext"]["routeKey"] == "echo"


def test_logs_are_framed_like_cloudwatch(api: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Each invocation's START, output, END and REPORT go to the function's log file;
    the terminal shows the handler's output, and the frame lines only when verbose."""
    caplog.set_level(logging.INFO, logger="emulator.lambda")
    with connect(url(api)) as ws:
        seen = report(ws)
    request_id = seen["context"]["aws_request_id"]
    shown = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert [line for line in shown if "START" in line or "REPORT" in line] == []
    assert any(f"echo handled {request_id}" in line for line in shown)
    log_file = api.log_dir / f"{seen['context']['function_name']}.log"
    deadline = time.monotonic() + seconds(15)
    while f"REPORT RequestId: {request_id}" not in log_file.read_text():
        assert time.monotonic() < deadline, log_file.read_text()
        time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    lines = [line for line in log_file.read_text().splitlines() if request_id in line]
    assert lines[0].startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert any(f"echo handled {request_id}" in line for line in lines)
    assert any(line == f"END RequestId: {request_id}" for line in lines)
    report_line = next(line for line in lines if line.startswith("REPORT"))
    assert "Duration:" in report_line
    assert "Memory Size: 256 MB" in report_line


def test_a_failure_is_two_lines_on_the_terminal(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing handler shows route, error type and message, then where its log is."""
    caplog.set_level(logging.INFO, logger="emulator")
    with connect(url(api)) as ws:
        assert call(ws, "fail")["message"] == "Internal server error"
    failure = next(r.getMessage() for r in caplog.records if "route fail" in r.getMessage())
    first, second = failure.splitlines()
    assert "route fail:" in first
    assert "RuntimeError: the probe fails on purpose" in first
    log_path = Path(second.removeprefix("  log: "))
    assert log_path.parent == api.log_dir
    assert "Traceback" in log_path.read_text()
    assert "RuntimeError: the probe fails on purpose" in log_path.read_text()


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    ['{"meta": {"action": "nothing-here"}}', '{"action": "echo"}', "not json", '{"meta": 1}'],
)
def test_unmatched_frames_are_forbidden_without_default(api: Harness, frame: str) -> None:
    """With no $default route, a frame no route matches gets AWS's Forbidden reply."""
    with connect(url(api)) as ws:
        ws.send(frame)
        reply = json.loads(ws.recv(timeout=seconds(15)))
    assert reply["message"] == "Forbidden"
    assert reply["connectionId"]
    assert reply["requestId"]


def test_one_way_routes_send_nothing_back(api: Harness) -> None:
    """A route without a route response drops the handler's body; a two-way one sends it."""
    with connect(url(api)) as ws:
        ws.send(json.dumps({"meta": {"action": "oneway"}}))
        reply = report(ws)
    assert reply["event"]["requestContext"]["routeKey"] == "echo"


# --- handshake ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["400", "403", "429", "500"])
def test_connect_non_2xx_refuses_the_upgrade(api: Harness, status: str) -> None:
    """$connect's status code is the upgrade's answer."""
    with pytest.raises(InvalidStatus) as refused:
        connect(url(api, status=status))
    assert refused.value.response.status_code == int(status)


def test_subprotocol_is_echoed_only_when_connect_returns_it(api: Harness) -> None:
    """Sec-WebSocket-Protocol comes back only if the handler chose one of those offered."""
    offered: Any = ["chat.v1", "chat.v2"]
    with connect(url(api, protocol="chat.v2"), subprotocols=offered) as ws:
        assert ws.subprotocol == "chat.v2"
    with connect(url(api)) as ws:
        assert ws.subprotocol is None


def test_authorizer_allows_denies_and_passes_its_context(api: Harness) -> None:
    """No identity: 401. Deny: 403. Allow: the context reaches every later event."""
    assert api.gateway is not None
    with pytest.raises(InvalidStatus) as missing:
        connect(api.gateway.url)
    assert missing.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as denied:
        connect(f"{api.gateway.url}?token=wrong")
    assert denied.value.response.status_code == 403
    with connect(url(api)) as ws:
        event = report(ws)["event"]
    expected = {"principalId": "tester", "team": "contract", "level": 3}
    assert event["requestContext"]["authorizer"] == expected
    cid = event["requestContext"]["connectionId"]
    assert recorded(api, cid, "connect")["requestContext"]["authorizer"] == expected
    assert recorded(api, cid, "disconnect")["requestContext"]["authorizer"] == expected


# --- @connections ------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["domain", "config"])
def test_post_get_delete_through_both_endpoint_styles(api: Harness, via: str) -> None:
    """Handlers reach @connections via https://{domainName}/{stage} or configuration."""
    with connect(url(api)) as ws, connect(url(api)) as other:
        other_id = connection_id(other)
        assert call(ws, "manage", op="post", data="hello you", target=other_id, via=via) == {
            "ok": True
        }
        assert other.recv(timeout=seconds(15)) == "hello you"
        described = call(ws, "manage", op="get", via=via)
        assert described["identity"]["SourceIp"] == "127.0.0.1"
        assert described["connectedAt"] <= described["lastActiveAt"]
        assert call(ws, "manage", op="delete", target=other_id, via=via) == {"ok": True}
        with pytest.raises(ConnectionClosed):
            other.recv(timeout=seconds(15))
        gone = call(ws, "manage", op="post", target=other_id, data="late", via=via)
    assert gone == {"error": "GoneException", "status": 410}
    assert recorded(api, other_id, "disconnect")["requestContext"]["disconnectStatusCode"] == 1000


def test_unknown_and_closed_ids_are_gone(api: Harness) -> None:
    """Posting, getting or deleting a connection that isn't open is 410 GoneException."""
    with connect(url(api)) as closed:
        closed_id = connection_id(closed)
    with connect(url(api)) as ws:
        for target in ("bm90LWEtY29ubmVjdGlvbg==", closed_id):
            for op in ("post", "get", "delete"):
                assert call(ws, "manage", op=op, target=target) == {
                    "error": "GoneException",
                    "status": 410,
                }


def test_posting_during_connect_is_gone(api: Harness) -> None:
    """A $connect handler posting to its own connection gets 410, as on AWS."""
    with connect(url(api, postself="1")) as ws:
        cid = connection_id(ws)
    assert recorded(api, cid, "connect_post") == "GoneException"


def test_oversized_post_is_payload_too_large(api: Harness) -> None:
    """Data over 128 KB is refused with PayloadTooLargeException."""
    with connect(url(api)) as ws:
        refused = call(ws, "manage", op="post", size=128 * 1024 + 1)
        ws.send(json.dumps({"meta": {"action": "manage"}, "op": "post", "size": 100 * 1024}))
        assert len(ws.recv(timeout=seconds(15))) == 100 * 1024  # posted before the reply
        assert json.loads(ws.recv(timeout=seconds(15))) == {"ok": True}
    assert refused == {"error": "PayloadTooLargeException", "status": 413}


# --- limits and disconnect codes ----------------------------------------------------------


def send_and_wait(fragments: list[str], ws: ClientConnection) -> None:
    """Send one fragmented message, then wait for a frame: a close can come during either."""
    ws.send(fragments)
    ws.recv(timeout=seconds(15))


def test_oversized_message_closes_with_1009(api: Harness) -> None:
    """A client message over 128 KB, even in 32 KB frames, closes the socket with 1009."""
    with connect(url(api), max_size=None) as ws:
        cid = connection_id(ws)
        body = json.dumps({"meta": {"action": "echo"}, "pad": "x" * (128 * 1024)})
        with pytest.raises(ConnectionClosed) as closed:
            send_and_wait([body[i : i + 32 * 1024] for i in range(0, len(body), 32 * 1024)], ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    assert recorded(api, cid, "disconnect")["requestContext"]["disconnectStatusCode"] == 1009


def test_frames_over_32_kb_close_with_1009_but_fragments_pass(api: Harness) -> None:
    """A 100 KB message sent as 32 KB frames is fine; a single 40 KB frame is not."""
    body = json.dumps({"meta": {"action": "echo"}, "pad": "y" * (100 * 1024)})
    chunk = 32 * 1024
    with connect(url(api), max_size=None) as ws:
        ws.send([body[i : i + chunk] for i in range(0, len(body), chunk)])
        echoed = json.loads(ws.recv(timeout=seconds(15)))
        assert echoed["event"]["body"] == body
    with connect(url(api), max_size=None) as ws:
        ws.send(json.dumps({"meta": {"action": "echo"}, "pad": "z" * (40 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=seconds(15))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


@pytest.mark.parametrize("limit", ["idle_timeout", "lifetime"])
def test_idle_and_lifetime_limits_close_with_1001(api: Harness, limit: str) -> None:
    """Past the idle timeout or the connection lifetime, the gateway closes with 1001."""
    assert api.gateway is not None
    saved = api.gateway.limits
    # Long enough for a first answer from a cold worker on a busy machine.
    api.gateway.limits = Limits(**{limit: seconds(1.5)})  # type: ignore[arg-type]
    try:
        with connect(url(api)) as ws:
            cid = connection_id(ws)

            def keep_going() -> None:
                while True:  # only the lifetime may end a connection that keeps talking
                    if limit == "lifetime":
                        report(ws)
                    else:
                        ws.recv(timeout=seconds(15))

            with pytest.raises(ConnectionClosed) as closed:
                keep_going()
    finally:
        api.gateway.limits = saved
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert recorded(api, cid, "disconnect")["requestContext"]["disconnectStatusCode"] == 1001


@pytest.mark.parametrize(("how", "code"), [("normal", 1000), ("no-status", 1005), ("abrupt", 1006)])
def test_disconnect_status_codes(api: Harness, how: str, code: int) -> None:
    """$disconnect carries 1000, 1005 or 1006 by how the client left."""
    ws = connect(url(api)).__enter__()
    cid = connection_id(ws)
    if how == "normal":
        ws.close(1000)
    elif how == "no-status":
        # A masked close frame with no payload: websockets' API won't send one.
        ws.socket.sendall(b"\x88\x80" + os.urandom(4))
    else:
        ws.socket.shutdown(socket.SHUT_RDWR)
        ws.socket.close()
    assert recorded(api, cid, "disconnect")["requestContext"]["disconnectStatusCode"] == code


# --- binary frames --------------------------------------------------------------------------


def test_a_binary_frame_closes_with_1003(api: Harness) -> None:
    """API Gateway takes no binary frames: it closes the connection with 1003."""
    with connect(url(api)) as ws:
        cid = connection_id(ws)
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=seconds(15))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003
    assert recorded(api, cid, "disconnect")["requestContext"]["disconnectStatusCode"] == 1003


def test_posted_bytes_arrive_as_a_binary_frame_and_text_as_text(api: Harness) -> None:
    """Data that is UTF-8 arrives as a text frame; other bytes as a binary frame."""
    raw = bytes(range(256))
    with connect(url(api)) as ws:
        ws.send(
            json.dumps(
                {
                    "meta": {"action": "manage"},
                    "op": "post",
                    "bytes": base64.b64encode(raw).decode(),
                }
            )
        )
        assert ws.recv(timeout=seconds(15)) == raw
        assert json.loads(ws.recv(timeout=seconds(15))) == {"ok": True}
        ws.send(json.dumps({"meta": {"action": "manage"}, "op": "post", "data": "héllo"}))
        assert ws.recv(timeout=seconds(15)) == "héllo"  # a str: it came as a text frame
        assert json.loads(ws.recv(timeout=seconds(15))) == {"ok": True}


def test_a_client_that_never_reads_does_not_block_posts(api: Harness) -> None:
    """Posts return once accepted: 6 MB to a client that reads nothing all succeed."""
    with connect(url(api), max_queue=1) as idle, connect(url(api)) as ws:
        idle_id = connection_id(idle)
        for _ in range(60):  # far past the socket buffers: TCP backpressure on the idle one
            assert call(ws, "manage", op="post", target=idle_id, size=100 * 1024) == {"ok": True}


def test_a_wrong_stage_path_is_forbidden(api: Harness) -> None:
    """Only wss://host/{stage} upgrades; any other path is refused with 403."""
    assert api.gateway is not None
    wrong = api.gateway.url.replace("/test", "/prod") + f"?token={TOKEN}"
    with pytest.raises(InvalidStatus) as refused:
        connect(wrong)
    assert refused.value.response.status_code == 403


def test_connections_api_refuses_other_paths(api: Harness) -> None:
    """@connections lives under /{stage}/@connections/{id}; anything else is 403."""
    assert api.gateway is not None
    context = ssl.create_default_context(cafile=str(api.gateway.certificates.ca_path))
    https = http.client.HTTPSConnection(
        "localhost", api.gateway.connections_port, context=context, timeout=seconds(15)
    )
    https.request("POST", "/prod/@connections/abc", body=b"x")
    response = https.getresponse()
    assert response.status == 403
    assert response.getheader("x-amzn-ErrorType") == "ForbiddenException"
    https.close()


def test_a_stale_package_is_refused(api: Harness, tmp_path: Path) -> None:
    """The emulator won't run a zip other than the one the function was deployed from."""
    assert api.target is not None
    assert api.outputs is not None
    stale = tmp_path / "stale.zip"
    stale.write_bytes(Path(next(iter(api.outputs.packages.values()))).read_bytes() + b"\0")
    packages = {name: stale for name in api.outputs.packages}
    with pytest.raises(ApiError, match="deployed from another package"):
        load_api(
            api.target.client("apigatewayv2"),
            api.target.client("lambda"),
            api.outputs.api_id,
            api.outputs.stage,
            packages,
            tmp_path / "code",
        )


# --- bounds and faults ----------------------------------------------------------------------


def _silent_client(api: Harness) -> tuple[socket.socket, str]:
    """A client that upgrades, learns its connection id from one echo, then never reads
    again, with a tiny receive window so that the kernel's buffers fill up quickly."""
    assert api.gateway is not None
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(seconds(15))
    raw.connect(("127.0.0.1", api.gateway.port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /test?token={TOKEN} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        received += raw.recv(4096)
    assert received.startswith(b"HTTP/1.1 101"), received
    received = received.split(b"\r\n\r\n", 1)[1]
    payload = json.dumps({"meta": {"action": "echo"}}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    raw.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    while True:  # one unmasked text frame from the server: 2 bytes, then a 16-bit length
        if len(received) >= 4:
            size = int.from_bytes(received[2:4], "big") if received[1] == 126 else received[1]
            start = 4 if received[1] == 126 else 2
            if len(received) >= start + size:
                echoed = json.loads(received[start : start + size])
                return raw, str(echoed["event"]["requestContext"]["connectionId"])
        received += raw.recv(65536)


def test_a_full_outbox_refuses_posts_with_limit_exceeded(api: Harness) -> None:
    """A client that doesn't read fills its outbox: posts get LimitExceededException (429),
    as AWS documents that error for a full client-side buffer."""
    assert api.gateway is not None
    saved = api.gateway.limits
    api.gateway.limits = replace(saved, outbox_bytes=300 * 1024)
    silent, silent_id = _silent_client(api)
    try:
        with connect(url(api)) as ws:
            accepted = 0
            while (outcome := call(ws, "manage", op="post", target=silent_id, size=100 * 1024)) == {
                "ok": True
            }:
                accepted += 1
                assert accepted < 80, "8 MB of posts never filled a 300 KB outbox"
            # The handler's boto3 retried the throttling error before giving up, as it would.
            assert outcome == {"error": "LimitExceededException", "status": 429}
            assert accepted > 3  # the kernel's buffers took some before the outbox filled
    finally:
        api.gateway.limits = saved
        silent.close()


@contextmanager
def _connections_socket(api: Harness) -> Iterator[ssl.SSLSocket]:
    """A TLS connection of our own to @connections, trusting the stack's CA."""
    assert api.gateway is not None
    port = api.gateway.connections_port
    context = ssl.create_default_context(cafile=str(api.gateway.certificates.ca_path))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=seconds(15)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        yield tls


def _raw_post(api: Harness, headers: str, body: bytes = b"") -> tuple[int, str]:
    """A hand-written POST to @connections; returns the status and the error type."""
    assert api.gateway is not None
    port = api.gateway.connections_port
    with _connections_socket(api) as tls:
        head = f"POST /test/@connections/abc HTTP/1.1\r\nHost: localhost:{port}\r\n{headers}"
        tls.sendall(f"{head}\r\n".encode() + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = tls.recv(4096)
            assert chunk, reply
            reply += chunk
    head = reply.split(b"\r\n\r\n")[0].decode()
    status = int(head.split()[1])
    error = next(
        (line.split(":", 1)[1].strip() for line in head.splitlines() if "x-amzn-ErrorType" in line),
        "",
    )
    return status, error


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ("Content-Length: -1\r\n", 400, "BadRequestException"),
        ("", 411, "BadRequestException"),
        (f"Content-Length: {256 * 1024 * 1024}\r\n", 413, "PayloadTooLargeException"),
    ],
)
def test_connections_checks_the_length_before_reading_the_body(
    api: Harness, headers: str, status: int, error: str
) -> None:
    """A bad or oversized Content-Length is answered at once; no body is read or awaited."""
    assert _raw_post(api, headers) == (status, error)


def _raw_exchange(api: Harness, data: bytes) -> bytes:
    """Send ``data`` to @connections on one TLS connection; all it answers until it closes."""
    with _connections_socket(api) as tls:
        tls.sendall(data)
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    return reply


def test_pipelined_requests_are_answered_in_order(api: Harness) -> None:
    """Requests sent at once on one kept-alive connection are each answered, in order."""
    assert api.gateway is not None
    host = f"Host: localhost:{api.gateway.connections_port}\r\n"
    with connect(url(api)) as ws:
        target = connection_id(ws)
        requests = [
            f"POST /test/@connections/{target} HTTP/1.1\r\n{host}Content-Length: 3\r\n\r\none",
            f"GET /test/@connections/bm90LWEtY29ubmVjdGlvbg== HTTP/1.1\r\n{host}\r\n",
            f"DELETE /test/@connections/bm90LWEtY29ubmVjdGlvbg== HTTP/1.1\r\n{host}\r\n",
            f"POST /test/@connections/{target} HTTP/1.1\r\n{host}Content-Length: 3\r\n"
            "Connection: close\r\n\r\ntwo",
        ]
        reply = _raw_exchange(api, "".join(requests).encode())
        assert [ws.recv(timeout=seconds(15)) for _ in range(2)] == ["one", "two"]
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) \r\n", reply)
    assert statuses == [b"200", b"410", b"410", b"200"]
    assert reply.rstrip().endswith(b"Connection: close")


def test_a_head_over_64_kb_is_a_bad_request(api: Harness) -> None:
    """Request line and headers over 64 KB: 400 BadRequestException, and the connection ends."""
    assert api.gateway is not None
    host = f"Host: localhost:{api.gateway.connections_port}\r\n"
    padding = "".join(f"X-Pad-{n}: {'x' * 1000}\r\n" for n in range(70))
    head = f"GET /test/@connections/abc HTTP/1.1\r\n{host}{padding}\r\n"
    reply = _raw_exchange(api, head.encode())
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"x-amzn-ErrorType: BadRequestException" in reply


def test_deeply_nested_json_is_just_unmatched(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A 2 KB frame nested 1,000 deep matches no route (Forbidden here): no crash, no silence."""
    frame = "[" * 1000 + "]" * 1000
    with connect(url(api)) as ws:
        ws.send(frame)
        assert json.loads(ws.recv(timeout=seconds(15)))["message"] == "Forbidden"
        assert report(ws)["event"]["requestContext"]["routeKey"] == "echo"
    assert "Task exception was never retrieved" not in caplog.text


def test_a_worker_that_died_while_idle_is_not_handed_a_request(api: Harness) -> None:
    """Kill the warm worker between two calls: the second still succeeds, on a new one."""
    with connect(url(api)) as ws:
        first = report(ws)["pid"]
        os.kill(first, 9)
        deadline = time.monotonic() + seconds(15)
        while served.is_running(first):  # it has died, while idle, before the next request
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = report(ws)
    assert second["pid"] != first
    assert second["event"]["requestContext"]["routeKey"] == "echo"


def test_idle_workers_are_retired(api: Harness) -> None:
    """A worker idle past the limit is stopped, as Lambda recycles environments."""
    assert api.runner is not None
    with connect(url(api)) as ws:
        pid = report(ws)["pid"]
    assert api.loop is not None
    retired = asyncio.run_coroutine_threadsafe(api.runner.retire_idle(0), api.loop).result(
        timeout=seconds(15)
    )
    assert retired >= 1
    assert not served.is_running(pid)


def test_stage_throttling_is_enforced_per_route(api: Harness) -> None:
    """The stage's route settings reach the control plane, and the gateway enforces them:
    past the burst, frames get Too Many Requests; other routes are not throttled."""
    assert api.target is not None
    assert api.outputs is not None
    stage = api.target.client("apigatewayv2").get_stage(ApiId=api.outputs.api_id, StageName="test")
    assert stage["RouteSettings"]["limited"]["ThrottlingBurstLimit"] == 2
    with connect(url(api)) as ws:
        for _ in range(6):
            ws.send(json.dumps({"meta": {"action": "limited"}}))
        ws.send(json.dumps({"meta": {"action": "echo"}}))  # two-way and not throttled
        throttled = []
        while "event" not in (reply := json.loads(ws.recv(timeout=seconds(15)))):
            throttled.append(reply)
    assert len(throttled) >= 3
    assert {e["message"] for e in throttled} == {"Too Many Requests"}


def test_a_worker_busy_during_a_retirement_sweep_still_goes_back_to_its_pool(
    api: Harness,
) -> None:
    """Retiring idle workers while an invocation runs must not lose its worker: once it
    is idle it is reused or retired, never left running outside every pool."""
    assert api.runner is not None
    assert api.loop is not None

    def retire() -> int:
        assert api.runner is not None
        assert api.loop is not None
        coroutine = api.runner.retire_idle(0)
        return asyncio.run_coroutine_threadsafe(coroutine, api.loop).result(seconds(15))

    with connect(url(api)) as ws:
        ws.send(json.dumps({"meta": {"action": "slow"}, "seconds": 1, "tag": "busy"}))
        deadline = time.monotonic() + seconds(15)
        while not any("SlowFunction" in w.function for w in list(api.runner._busy)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        retire()  # while the slow invocation is in flight
        pid = json.loads(ws.recv(timeout=seconds(15)))["pid"]
    deadline = time.monotonic() + seconds(15)
    while served.is_running(pid):  # back in its pool, so the next sweep stops it
        retire()
        assert time.monotonic() < deadline, "the worker was lost from its pool"
        time.sleep(0.05)
