"""The ``@connections`` management API, over HTTPS, as handlers reach it with boto3.

``POST /{stage}/@connections/{id}`` sends, ``GET`` describes, ``DELETE`` closes.
Unknown, closed and still-connecting ids get 410 ``GoneException``; data over the
message limit gets 413 ``PayloadTooLargeException``; a client whose buffer is full
gets 429 ``LimitExceededException``. Signatures are not checked; requests from web
pages (another ``Origin``, a ``Sec-Fetch-Site`` of another site, or a ``Host`` that is
neither the API's ``execute-api`` name nor this port on loopback: DNS rebinding) are
refused with 403 (:mod:`emulator.origins`).

It runs on the gateway's own event loop (:mod:`emulator.connections_http`: an asyncio
protocol with TLS, HTTP/1.1 parsed by ``httptools``, kept-alive connections); this module
decides the answers. So a post reaches the connection's outbox
without a thread or a hand-off: a POST or GET is answered in the callback that parsed
it, a DELETE (which waits for the close) in a task. Requests on one connection are
answered in order. A body's length is checked before the body is read.
``post_latency`` delays each request, as the network between Lambda and API Gateway
would, so that fan-out designs can be judged locally.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

from emulator import origins
from emulator.connections_http import Client, Reply, Request
from emulator.inspector.observer import Observer
from emulator.tls import Certificates

log = logging.getLogger("emulator.connections")

# A body up to this many times the limit is read (and dropped) before the 413, so the
# client sees the answer; a larger one is refused at once and the connection closed.
DISCARD_LIMIT = 16


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


def _too_large(size: int, limit: int, close: bool = False) -> Reply:
    return Reply(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        {"message": f"the data is {size} bytes; the limit is {limit}"},
        "PayloadTooLargeException",
        close,
    )


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
        self.clients: set[Client] = set()
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
            lambda: Client(self), self._host, self._port, ssl=self._context
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Kept-alive connections from warm workers: dropped, not closed politely (a TLS
        # close waits for the other side, and the workers are stopped after this).
        clients = list(self.clients)
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

    def request_for(self, method: str, target: str, headers: dict[str, str]) -> Request:
        """A request whose head has come: refused now (a web page, a length that can't
        be), or read on (how much of its body to keep)."""
        limit = self._backend.max_body if method == "POST" else 0
        request = Request(method, target, headers, limit)
        refused = origins.refusal(headers, self._hosts())
        if refused is not None:  # a web page: not even its body is read
            self.refusals.record(refused, f"{method} {target}")
            request.early = Reply(
                HTTPStatus.FORBIDDEN, {"message": refused}, "ForbiddenException", True
            )
        elif limit and "content-length" not in headers and "transfer-encoding" not in headers:
            request.early = Reply(  # a POST must say how long its body is
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

    def _target(self, request: Request) -> str:
        """The connection id the request's path names; 403 for any other path."""
        if request.size > request.limit:
            raise _too_large(request.size, request.limit)
        path = unquote(request.target.split("?", 1)[0])
        if not path.startswith(self._prefix) or len(path) == len(self._prefix):
            raise Reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")
        return path[len(self._prefix) :]

    def answer_now(self, request: Request) -> Reply | None:
        """The reply to a request that needs no waiting; None for one that does (a
        DELETE, which waits for the close, or any request under ``post_latency``)."""
        if request.early is not None:
            return request.early
        if self.post_latency or request.method == "DELETE":
            return None
        return self._operate(request)

    async def answer_later(self, request: Request) -> Reply:
        """The reply to a request that :meth:`answer_now` left to wait."""
        try:
            connection_id = self._target(request)
        except Reply as reply:
            return reply
        if self.post_latency:
            await asyncio.sleep(self.post_latency)
        if request.method != "DELETE":
            return self._operate(request)
        try:
            await self._backend.close(connection_id)
        except Exception as exc:
            return self._failed(connection_id, exc)
        return Reply(HTTPStatus.NO_CONTENT)

    def _operate(self, request: Request) -> Reply:
        """A POST's or a GET's reply (any other method's: 405)."""
        try:
            connection_id = self._target(request)
        except Reply as reply:
            return reply
        try:
            if request.method == "POST":
                self._backend.post(connection_id, b"".join(request.body))
                return Reply(HTTPStatus.OK)
            if request.method == "GET":
                return Reply(HTTPStatus.OK, self._backend.describe(connection_id))
        except Exception as exc:
            return self._failed(connection_id, exc)
        return Reply(
            HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"{request.method} is not supported"}
        )

    def _failed(self, connection_id: str, exc: Exception) -> Reply:
        """What the client hears of a backend's error: its error type, or 500 (logged)."""
        if isinstance(exc, Gone):
            return Reply(
                HTTPStatus.GONE, {"message": f"Connection {connection_id} is gone"}, "GoneException"
            )
        if isinstance(exc, LimitExceeded):
            return Reply(
                HTTPStatus.TOO_MANY_REQUESTS, {"message": str(exc)}, "LimitExceededException"
            )
        log.error("@connections request failed", exc_info=exc)
        return Reply(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            {"message": "Internal server error"},
            "InternalServerErrorException",
        )

    def observe(self, request: Request, reply: Reply, client: asyncio.BaseTransport) -> None:
        if self.observer is None:
            return
        path = unquote(request.target.split("?", 1)[0])
        connection_id = path.removeprefix(self._prefix) if path.startswith(self._prefix) else ""
        size = request.headers.get("content-length", "0")
        self.observer.management_call(
            request.method, connection_id, int(reply.status), int(size or 0), client
        )
