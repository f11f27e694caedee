"""The control plane keeps HTTP/1.1 connections open between requests, and never lets
one request's body run into the next; idle or at stop, it closes them."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from emulator import controlplane_http
from emulator.controlplane import ControlPlane

# moto picks the service by the signature's scope (and checks no signature)
SIGNED = "AWS4-HMAC-SHA256 Credential=test/20261205/us-east-1/dynamodb/aws4_request"
LIST_TABLES = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Authorization": SIGNED}
JSON = {"Content-Type": "application/x-amz-json-1.0"}


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    started = ControlPlane()
    started.start()
    try:
        yield started
    finally:
        started.stop()


def address(plane: ControlPlane) -> tuple[str, int]:
    host, port = plane.url.removeprefix("http://").split(":")
    return host, int(port)


def connect(plane: ControlPlane) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(*address(plane), timeout=30)
    connection.connect()
    return connection


def raw_answer(plane: ControlPlane, request: bytes) -> bytes:
    """``request`` sent as written (``{host}`` filled in) on a connection of its own, and
    all that comes back until the server closes it."""
    host, port = address(plane)
    with socket.create_connection((host, port), timeout=30) as raw:
        raw.sendall(request.replace(b"{host}", f"{host}:{port}".encode()))
        answer = b""
        while chunk := raw.recv(65536):  # to the end: the server closes
            answer += chunk
    return answer


def list_tables(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    connection.request("POST", "/", body=b"{}", headers={**LIST_TABLES, **JSON})
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read()) == {"TableNames": []}
    return response


def closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """True once the server has closed its end (the socket reads its end of file)."""
    assert connection.sock is not None
    connection.sock.settimeout(30)
    try:
        return connection.sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_requests_go_one_after_another_on_one_connection(plane: ControlPlane) -> None:
    """Three calls, one TCP connection: no answer says it closes."""
    connection = connect(plane)
    first = connection.sock
    for _ in range(3):
        response = list_tables(connection)
        assert response.getheader("Connection") is None
        assert not response.will_close
    assert connection.sock is first  # never reopened
    connection.close()


def test_a_body_moto_never_reads_does_not_run_into_the_next_request(plane: ControlPlane) -> None:
    """/moto-api is off: the guard answers 404 without reading the 5 kB body; the next
    request on the connection is still read from its first byte."""
    connection = connect(plane)
    body = b"POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.DeleteTable\r\n\r\n" * 80
    connection.request("POST", "/moto-api/reset", body=body)
    refused = connection.getresponse()
    assert refused.status == 404
    refused.read()
    list_tables(connection)
    connection.close()


def test_a_chunked_body_is_read_to_its_end(plane: ControlPlane) -> None:
    """A body sent in chunks is read to its last one; the next request follows it."""
    connection = connect(plane)
    chunks = iter([b"{", b"}"])
    connection.request(
        "POST", "/", body=chunks, headers={**LIST_TABLES, **JSON}, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read()) == {"TableNames": []}
    list_tables(connection)
    connection.close()


def test_a_client_that_asks_for_close_or_speaks_http_1_0_is_closed(plane: ControlPlane) -> None:
    """``Connection: close`` is honoured, and an HTTP/1.0 request is answered, then closed."""
    connection = connect(plane)
    connection.request(
        "POST", "/", body=b"{}", headers={**LIST_TABLES, **JSON, "Connection": "close"}
    )
    response = connection.getresponse()
    assert response.will_close
    response.read()
    answer = raw_answer(
        plane,
        b"POST / HTTP/1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        + f"Authorization: {SIGNED}\r\n".encode()
        + b"Host: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n"
        + b"Content-Length: 2\r\n\r\n{}",
    )
    assert answer.split(b" ", 2)[1] == b"200", answer[:300]
    assert b'"TableNames"' in answer


@pytest.mark.parametrize(
    "head",
    [
        b"HEAD /moto-api/reset HTTP/1.1\r\nHost: {host}\r\n\r\n",  # refused with a body
        b"GET / HTTP/1.1\r\nHost: {host}\r\n"
        + b"".join(b"X-%d: y\r\n" % n for n in range(101))  # http.server's own 431
        + b"\r\n",
    ],
    ids=["head", "too-many-headers"],
)
def test_answers_that_may_leave_bytes_behind_close_the_connection(
    plane: ControlPlane, head: bytes
) -> None:
    """A HEAD (whose refusal werkzeug writes a body for) and a request http.server turns
    away itself are answered, then the connection ends: nothing left is read as a request."""
    answer = raw_answer(plane, head)
    assert answer.count(b"HTTP/1.") == 1, answer  # one answer, no second one
    assert answer.count(b"<!DOCTYPE") <= 1, answer  # not even HTTP/0.9's, without a head


def test_an_idle_connection_is_closed_quietly(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A connection idle past its time is closed without a line on the terminal."""
    monkeypatch.setattr(controlplane_http.KeepAliveHandler, "timeout", 0.2)
    connection = connect(plane)
    list_tables(connection)
    assert closed_by_server(connection)
    connection.close()
    assert list_tables(connect(plane))  # a new connection is served as ever
    captured = capfd.readouterr()
    assert "timed out" not in captured.err + captured.out


def test_stopping_closes_the_connections_it_kept() -> None:
    """A kept connection can't reach a stopped control plane, nor can a new one."""
    stopped = ControlPlane()
    stopped.start()
    connection = connect(stopped)
    list_tables(connection)
    stopped.stop()
    assert closed_by_server(connection)
    connection.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address(stopped), timeout=30).close()
