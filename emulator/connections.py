"""The ``@connections`` management API, over HTTPS, as handlers reach it with boto3.

``POST /{stage}/@connections/{id}`` sends, ``GET`` describes, ``DELETE`` closes.
Unknown, closed and still-connecting ids get 410 ``GoneException``; data over the
message limit gets 413 ``PayloadTooLargeException``; a client whose buffer is full
gets 429 ``LimitExceededException``. Signatures are not checked; requests from web
pages (another ``Origin``, a ``Sec-Fetch-Site`` of another site, or a ``Host`` that is
neither the API's ``execute-api`` name nor this port on loopback: DNS rebinding) are
refused with 403 (:mod:`emulator.origins`).

It runs on the gateway's own event loop (asyncio streams with TLS, HTTP/1.1 by the
``h11`` library, kept-alive connections), so a post reaches the connection's outbox
without a thread or a hand-off. A body's length is checked before the body is read.
``post_latency`` delays each request, as the network between Lambda and API Gateway
would, so that fan-out designs can be judged locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

import h11

from emulator import origins
from emulator.inspector.observer import Observer
from emulator.tls import Certificates

log = logging.getLogger("emulator.connections")

# A body up to this many times the limit is read (and dropped) before the 413, so the
# client sees the answer; a larger one is refused at once and the connection closed.
DISCARD_LIMIT = 16
_HEAD_LIMIT = 64 * 1024  # request line and headers
_READ = 64 * 1024


class Gone(Exception):
    """No open connection with that id."""


class LimitExceeded(Exception):
    """The client's buffer is full: it reads more slowly than it is posted to."""


class ConnectionsBackend(Protocol):
    """What the API needs from the gateway; all of it runs on the gateway's loop.

    A posted body is never over ``max_body``: the API refuses it before reading it.
    """

    @property
    def max_body(self) -> int: ...

    @property
    def hosts(self) -> frozenset[str]:
        """The names functions reach this API by (the API's ``execute-api`` host)."""
        ...

    async def post(self, connection_id: str, data: bytes) -> None: ...

    async def describe(self, connection_id: str) -> dict[str, Any]: ...

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
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.refusals = origins.Refusals("@connections", log)
        self.observer: Observer | None = None  # told of every request answered (the inspector)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, ssl=self._context
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Kept-alive connections from warm workers: dropped, not closed politely (a TLS
        # close waits for the other side, and the workers are stopped after this).
        # Not cancelled: asyncio's stream callback would log each cancelled task.
        for writer in list(self._clients.values()):
            writer.transport.abort()
        await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = writer
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=_HEAD_LIMIT)
        try:
            while await self._one_request(http, reader, writer):
                http.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
            pass  # the client went away, or spoke no HTTP: nothing to answer
        except ssl.SSLError:
            pass
        finally:
            self._clients.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=1)

    def _hosts(self) -> frozenset[str]:
        """The ``Host`` values a request may carry: the API's names, and this port's."""
        names = self._backend.hosts
        return origins.local_hosts(self.port) | names | {f"{name}:443" for name in names}

    async def _event(self, http: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = http.next_event()
            if event is not h11.NEED_DATA:
                return event
            http.receive_data(await reader.read(_READ))

    async def _one_request(
        self, http: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False when the connection should end."""
        try:
            request = await self._event(http, reader)
        except h11.RemoteProtocolError as exc:  # e.g. Content-Length: -1
            reply = _Reply(HTTPStatus.BAD_REQUEST, {"message": str(exc)}, "BadRequestException")
            with contextlib.suppress(h11.LocalProtocolError):  # if h11 allows an answer
                await self._send(http, writer, reply, close=True)
            return False
        if isinstance(request, h11.ConnectionClosed):
            return False
        assert isinstance(request, h11.Request)
        try:
            result = await self._handle(http, reader, request)
        except _Reply as reply:
            self._observe(request, reply, writer)
            await self._send(http, writer, reply, close=reply.close)
            return not reply.close
        except Exception:
            log.exception("@connections request failed")
            result = _Reply(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"message": "Internal server error"},
                "InternalServerErrorException",
            )
        self._observe(request, result, writer)
        await self._send(http, writer, result, close=False)
        return http.our_state is h11.DONE and http.their_state is h11.DONE

    def _observe(self, request: h11.Request, reply: _Reply, writer: asyncio.StreamWriter) -> None:
        if self.observer is None:
            return
        path = unquote(request.target.decode().split("?", 1)[0])
        connection_id = path.removeprefix(self._prefix) if path.startswith(self._prefix) else ""
        size = dict(request.headers).get(b"content-length", b"0")
        self.observer.management_call(
            request.method.decode(), connection_id, int(reply.status), int(size or 0), writer
        )

    async def _handle(
        self, http: h11.Connection, reader: asyncio.StreamReader, request: h11.Request
    ) -> _Reply:
        method = request.method.decode()
        headers = {name.decode().lower(): value.decode() for name, value in request.headers}
        refused = origins.refusal(headers, self._hosts())
        if refused is not None:  # a web page: not even its body is read
            self.refusals.record(refused, f"{method} {request.target.decode()}")
            raise _Reply(HTTPStatus.FORBIDDEN, {"message": refused}, "ForbiddenException", True)
        body = b""
        if method == "POST":
            body = await self._body(http, reader, headers)
        else:
            await self._body(http, reader, headers, limit=0)
        path = unquote(request.target.decode().split("?", 1)[0])
        if not path.startswith(self._prefix) or len(path) == len(self._prefix):
            raise _Reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")
        connection_id = path[len(self._prefix) :]
        if self.post_latency:
            await asyncio.sleep(self.post_latency)
        backend = self._backend
        try:
            if method == "POST":
                await backend.post(connection_id, body)
                return _Reply(HTTPStatus.OK)
            if method == "GET":
                return _Reply(HTTPStatus.OK, await backend.describe(connection_id))
            if method == "DELETE":
                await backend.close(connection_id)
                return _Reply(HTTPStatus.NO_CONTENT)
        except Gone:
            raise _Reply(
                HTTPStatus.GONE, {"message": f"Connection {connection_id} is gone"}, "GoneException"
            ) from None
        except LimitExceeded as exc:
            raise _Reply(
                HTTPStatus.TOO_MANY_REQUESTS, {"message": str(exc)}, "LimitExceededException"
            ) from None
        raise _Reply(HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"{method} is not supported"})

    async def _body(
        self,
        http: h11.Connection,
        reader: asyncio.StreamReader,
        headers: dict[str, str],
        limit: int | None = None,
    ) -> bytes:
        """The request's body, checked against the limit before any of it is read."""
        limit = self._backend.max_body if limit is None else limit
        if limit and "content-length" not in headers and "transfer-encoding" not in headers:
            raise _Reply(  # a POST must say how long its body is
                HTTPStatus.LENGTH_REQUIRED,
                {"message": "a POST needs a Content-Length of 0 or more bytes"},
                "BadRequestException",
                close=True,
            )
        declared = int(headers.get("content-length", "0") or 0)
        if declared > DISCARD_LIMIT * max(limit, 1):
            # The rest must not be taken as a request: answer, then close.
            raise _too_large(declared, self._backend.max_body, close=True)
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._event(http, reader)
            if isinstance(event, h11.EndOfMessage):
                break
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size <= limit:
                    chunks.append(bytes(event.data))  # past the limit it is read and dropped
        if size > limit:
            raise _too_large(size, limit)
        return b"".join(chunks)

    async def _send(
        self, http: h11.Connection, writer: asyncio.StreamWriter, reply: _Reply, close: bool
    ) -> None:
        data = json.dumps(reply.body).encode() if reply.body is not None else b""
        headers = [("Content-Type", "application/json")]
        if reply.status != HTTPStatus.NO_CONTENT:
            headers.append(("Content-Length", str(len(data))))
        if reply.error:
            headers.append(("x-amzn-ErrorType", reply.error))
        if close:
            headers.append(("Connection", "close"))
        chunks = [http.send(h11.Response(status_code=int(reply.status), headers=headers))]
        if data:
            chunks.append(http.send(h11.Data(data=data)))
        chunks.append(http.send(h11.EndOfMessage()))
        writer.write(b"".join(c for c in chunks if c))
        await writer.drain()
