"""The ``@connections`` management API, over HTTPS, as handlers reach it with boto3.

``POST /{stage}/@connections/{id}`` sends, ``GET`` describes, ``DELETE`` closes.
Unknown, closed and still-connecting ids get 410 ``GoneException``; data over the
message limit gets 413 ``PayloadTooLargeException``; a client whose buffer is full
gets 429 ``LimitExceededException``. Signatures are not checked; requests from web
pages (another ``Origin``, a ``Sec-Fetch-Site`` of another site, or a ``Host`` that is
neither the API's ``execute-api`` name nor this port on loopback: DNS rebinding) are
refused with 403 (:mod:`emulator.origins`).

It runs on the gateway's own event loop (an asyncio protocol with TLS, HTTP/1.1 parsed
by ``httptools``, kept-alive connections), so a post reaches the connection's outbox
without a thread or a hand-off: a POST or GET is answered in the callback that parsed
it, a DELETE (which waits for the close) in a task. Requests on one connection are
answered in order. A body's length is checked before the body is read.
``post_latency`` delays each request, as the network between Lambda and API Gateway
would, so that fan-out designs can be judged locally.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import deque
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

import httptools

from emulator import origins
from emulator.inspector.observer import Observer
from emulator.tls import Certificates

log = logging.getLogger("emulator.connections")

# A body up to this many times the limit is read (and dropped) before the 413, so the
# client sees the answer; a larger one is refused at once and the connection closed.
DISCARD_LIMIT = 16
_HEAD_LIMIT = 64 * 1024  # request line and headers


class Gone(Exception):
    """No open connection with that id."""


class LimitExceeded(Exception):
    """The client's buffer is full: it reads more slowly than it is posted to."""


class ConnectionsBackend(Protocol):
    """What the API needs from the gateway; all of it runs on the gateway's loop.

    A posted body is never over ``max_body``: the API refuses it before reading it.
    ``post`` and ``describe`` answer at once; ``close`` waits for the socket to close.
    """

    @property
    def max_body(self) -> int: ...

    @property
    def hosts(self) -> frozenset[str]:
        """The names functions reach this API by (the API's ``execute-api`` host)."""
        ...

    def post(self, connection_id: str, data: bytes) -> None: ...

    def describe(self, connection_id: str) -> dict[str, Any]: ...

    async def close(self, connection_id: str) -> None: ...


class _Reply(Exception):
    """Answer the request now with this status, body and error type."""

    def __init__(
        self,
        status: HTTPStatus,
        body: dict[str, Any] | None = None,
        error: str | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.error = error
        self.close = close


def _too_large(size: int, limit: int, close: bool = False) -> _Reply:
    return _Reply(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        {"message": f"the data is {size} bytes; the limit is {limit}"},
        "PayloadTooLargeException",
        close,
    )


class _Request:
    """One request as parsed: its head, and its body once it has all come."""

    __slots__ = ("body", "close", "early", "headers", "limit", "method", "size", "target")

    def __init__(self, method: str, target: str, headers: dict[str, str], limit: int) -> None:
        self.method = method
        self.target = target
        self.headers = headers  # names in lower case; a repeated name keeps its last value
        self.limit = limit  # the body kept: past it, the rest is read and dropped
        self.size = 0
        self.body: list[bytes] = []
        self.early: _Reply | None = None  # answered from its head alone, body unread
        self.close = False  # the client asked for no keep-alive (or spoke HTTP/1.0)


def _response(reply: _Reply, close: bool) -> bytes:
    """The reply's bytes: a status line with no reason phrase, the headers, the body."""
    data = json.dumps(reply.body).encode() if reply.body is not None else b""
    lines = [f"HTTP/1.1 {int(reply.status)} ", "Content-Type: application/json"]
    if reply.status != HTTPStatus.NO_CONTENT:
        lines.append(f"Content-Length: {len(data)}")
    if reply.error:
        lines.append(f"x-amzn-ErrorType: {reply.error}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


_OK = _response(_Reply(HTTPStatus.OK), close=False)  # a post's answer, nearly every time


class ConnectionsApi:
    def __init__(
        self,
        backend: ConnectionsBackend,
        stage: str,
        certificates: Certificates,
        host: str = "127.0.0.1",
        port: int = 0,
        post_latency: float = 0.0,
    ) -> None:
        self._backend = backend
        self._prefix = f"/{stage}/@connections/"
        self._host = host
        self._port = port
        self.post_latency = post_latency
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certificates.cert_path, certificates.key_path)
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._hosts_of: tuple[frozenset[str], frozenset[str]] | None = None
        self.refusals = origins.Refusals("@connections", log)
        self.observer: Observer | None = None  # told of every request answered (the inspector)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Client(self), self._host, self._port, ssl=self._context
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Kept-alive connections from warm workers: dropped, not closed politely (a TLS
        # close waits for the other side, and the workers are stopped after this).
        clients = list(self._clients)
        for client in clients:
            client.abort()
        await asyncio.gather(*(c.task for c in clients if c.task), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _hosts(self) -> frozenset[str]:
        """The ``Host`` values a request may carry: the API's names, and this port's."""
        names = self._backend.hosts
        if self._hosts_of is None or self._hosts_of[0] != names:
            hosts = origins.local_hosts(self.port) | names | {f"{name}:443" for name in names}
            self._hosts_of = names, hosts
        return self._hosts_of[1]

    def request_for(self, method: str, target: str, headers: dict[str, str]) -> _Request:
        """A request whose head has come: refused now (a web page, a length that can't
        be), or read on (how much of its body to keep)."""
        limit = self._backend.max_body if method == "POST" else 0
        request = _Request(method, target, headers, limit)
        refused = origins.refusal(headers, self._hosts())
        if refused is not None:  # a web page: not even its body is read
            self.refusals.record(refused, f"{method} {target}")
            request.early = _Reply(
                HTTPStatus.FORBIDDEN, {"message": refused}, "ForbiddenException", True
            )
        elif limit and "content-length" not in headers and "transfer-encoding" not in headers:
            request.early = _Reply(  # a POST must say how long its body is
                HTTPStatus.LENGTH_REQUIRED,
                {"message": "a POST needs a Content-Length of 0 or more bytes"},
                "BadRequestException",
                close=True,
            )
        elif int(headers.get("content-length", "0") or 0) > DISCARD_LIMIT * max(limit, 1):
            # The rest must not be taken as a request: answer, then close.
            declared = int(headers["content-length"])
            request.early = _too_large(declared, self._backend.max_body, close=True)
        return request

    def _target(self, request: _Request) -> str:
        """The connection id the request's path names; 403 for any other path."""
        if request.size > request.limit:
            raise _too_large(request.size, request.limit)
        path = unquote(request.target.split("?", 1)[0])
        if not path.startswith(self._prefix) or len(path) == len(self._prefix):
            raise _Reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")
        return path[len(self._prefix) :]

    def answer_now(self, request: _Request) -> _Reply | None:
        """The reply to a request that needs no waiting; None for one that does (a
        DELETE, which waits for the close, or any request under ``post_latency``)."""
        if request.early is not None:
            return request.early
        if self.post_latency or request.method == "DELETE":
            return None
        return self._operate(request)

    async def answer_later(self, request: _Request) -> _Reply:
        """The reply to a request that :meth:`answer_now` left to wait."""
        try:
            connection_id = self._target(request)
        except _Reply as reply:
            return reply
        if self.post_latency:
            await asyncio.sleep(self.post_latency)
        if request.method != "DELETE":
            return self._operate(request)
        try:
            await self._backend.close(connection_id)
        except Exception as exc:
            return self._failed(connection_id, exc)
        return _Reply(HTTPStatus.NO_CONTENT)

    def _operate(self, request: _Request) -> _Reply:
        """A POST's or a GET's reply (any other method's: 405)."""
        try:
            connection_id = self._target(request)
        except _Reply as reply:
            return reply
        try:
            if request.method == "POST":
                self._backend.post(connection_id, b"".join(request.body))
                return _Reply(HTTPStatus.OK)
            if request.method == "GET":
                return _Reply(HTTPStatus.OK, self._backend.describe(connection_id))
        except Exception as exc:
            return self._failed(connection_id, exc)
        return _Reply(
            HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"{request.method} is not supported"}
        )

    def _failed(self, connection_id: str, exc: Exception) -> _Reply:
        """What the client hears of a backend's error: its error type, or 500 (logged)."""
        if isinstance(exc, Gone):
            return _Reply(
                HTTPStatus.GONE, {"message": f"Connection {connection_id} is gone"}, "GoneException"
            )
        if isinstance(exc, LimitExceeded):
            return _Reply(
                HTTPStatus.TOO_MANY_REQUESTS, {"message": str(exc)}, "LimitExceededException"
            )
        log.error("@connections request failed", exc_info=exc)
        return _Reply(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            {"message": "Internal server error"},
            "InternalServerErrorException",
        )

    def observe(self, request: _Request, reply: _Reply, client: asyncio.BaseTransport) -> None:
        if self.observer is None:
            return
        path = unquote(request.target.split("?", 1)[0])
        connection_id = path.removeprefix(self._prefix) if path.startswith(self._prefix) else ""
        size = request.headers.get("content-length", "0")
        self.observer.management_call(
            request.method, connection_id, int(reply.status), int(size or 0), client
        )


class _Client(asyncio.Protocol):
    """One kept-alive TLS connection: requests parsed as bytes come, answered in order."""

    def __init__(self, api: ConnectionsApi) -> None:
        self._api = api
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[_Request] = deque()  # parsed, not yet answered
        self._closing = False  # answered with Connection: close, or broken: read no more
        self.task: asyncio.Task[None] | None = None  # answering a request that waits
        # The request being parsed: its target, headers and the head's size so far.
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._request: _Request | None = None

    # --- asyncio --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._api._clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._waiting.clear()
        self._api._clients.discard(self)

    def pause_writing(self) -> None:
        # A client that doesn't read its answers: stop reading its requests meanwhile.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # It speaks something else next: answer what came, then end.
            self._closing = True
            if self._waiting:
                self._waiting[-1].close = True
            elif self._transport is not None:
                self._transport.close()
        except httptools.HttpParserError as exc:  # e.g. Content-Length: -1
            cause = exc.__context__  # what a callback of ours raised, if one did
            if not isinstance(cause, _Stop):
                self._refuse(str(cause or exc) or type(exc).__name__)
        self._answer()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- httptools' callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._fields = []
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields.append((name, value))
        self._grow(len(name) + len(value) + 4)

    def _grow(self, size: int) -> None:
        self._head_size += size
        if self._head_size > _HEAD_LIMIT:
            raise ValueError(f"the request's head is over {_HEAD_LIMIT} bytes")

    def on_headers_complete(self) -> None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self._fields
        }
        method = self._parser.get_method().decode("latin-1")
        request = self._api.request_for(method, self._url.decode("latin-1"), headers)
        request.close = not self._parser.should_keep_alive()
        self._request = request
        if request.early is not None:
            self._waiting.append(request)
            if request.early.close:  # its body is not read: nothing after it can be parsed
                self._closing = True
                raise _Stop

    def on_body(self, chunk: bytes) -> None:
        request = self._request
        assert request is not None
        request.size += len(chunk)
        if request.size <= request.limit:
            request.body.append(chunk)  # past the limit it is read and dropped

    def on_message_complete(self) -> None:
        request = self._request
        assert request is not None
        self._request = None
        if request.early is None:
            request.close = request.close or not self._parser.should_keep_alive()
            self._waiting.append(request)

    # --- answers ----------------------------------------------------------------------

    def _refuse(self, message: str) -> None:
        """What the client sent is no HTTP this server reads: 400, then close."""
        self._closing = True
        request = _Request("", "", {}, 0)  # no method: not observed, it was no request
        request.early = _Reply(
            HTTPStatus.BAD_REQUEST, {"message": message}, "BadRequestException", True
        )
        self._waiting.append(request)

    def _answer(self) -> None:
        """Answer the waiting requests in order, up to one that must wait (in a task)."""
        api = self._api
        while self._waiting and self.task is None:
            request = self._waiting[0]
            reply = api.answer_now(request)
            if reply is None:
                self.task = asyncio.get_running_loop().create_task(self._answer_later(request))
                return
            self._waiting.popleft()
            if not self._send(request, reply):
                return

    async def _answer_later(self, request: _Request) -> None:
        reply = await self._api.answer_later(request)
        self.task = None
        if self._waiting and self._waiting[0] is request:
            self._waiting.popleft()
            if self._send(request, reply):
                self._answer()

    def _send(self, request: _Request, reply: _Reply) -> bool:
        """Write the reply; False when the connection ends with it."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if request.method:
            self._api.observe(request, reply, transport)
        close = reply.close or request.close
        if reply.status == HTTPStatus.OK and reply.body is None and not reply.error and not close:
            transport.write(_OK)
        else:
            transport.write(_response(reply, close))
        if close:
            self._closing = True
            self._waiting.clear()
            transport.close()
            return False
        return True


class _Stop(Exception):
    """Parse no further: the request was answered from its head, and the connection ends."""
