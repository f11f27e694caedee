"""HTTP/1.1 for the ``@connections`` API: one asyncio protocol per kept-alive TLS
connection, its requests parsed by ``httptools`` as their bytes come, and answered in
order by what the API decides (:class:`Answers`, which :mod:`emulator.connections`'s
``ConnectionsApi`` is). A request that needs no waiting is answered in the callback
that parsed it; one that waits (a DELETE, which waits for the close) in a task, and
the requests behind it wait their turn.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from http import HTTPStatus
from typing import Any, Protocol

import httptools

HEAD_LIMIT = 64 * 1024  # request line and headers


class Reply(Exception):
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


class Request:
    """One request as parsed: its head, and its body once it has all come."""

    __slots__ = ("body", "close", "early", "headers", "limit", "method", "size", "target")

    def __init__(self, method: str, target: str, headers: dict[str, str], limit: int) -> None:
        self.method = method
        self.target = target
        self.headers = headers  # names in lower case; a repeated name keeps its last value
        self.limit = limit  # the body kept: past it, the rest is read and dropped
        self.size = 0
        self.body: list[bytes] = []
        self.early: Reply | None = None  # answered from its head alone, body unread
        self.close = False  # the client asked for no keep-alive (or spoke HTTP/1.0)


def response(reply: Reply, close: bool) -> bytes:
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


_OK = response(Reply(HTTPStatus.OK), close=False)  # a post's answer, nearly every time


class Answers(Protocol):
    """What decides the answers: the API's side of each request."""

    clients: set[Client]  # the connections open now

    def request_for(self, method: str, target: str, headers: dict[str, str]) -> Request: ...

    def answer_now(self, request: Request) -> Reply | None: ...

    async def answer_later(self, request: Request) -> Reply: ...

    def observe(self, request: Request, reply: Reply, client: asyncio.BaseTransport) -> None: ...


class Client(asyncio.Protocol):
    """One kept-alive TLS connection: requests parsed as bytes come, answered in order."""

    def __init__(self, api: Answers) -> None:
        self._api = api
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[Request] = deque()  # parsed, not yet answered
        self._closing = False  # answered with Connection: close, or broken: read no more
        self.task: asyncio.Task[None] | None = None  # answering a request that waits
        # The request being parsed: its target, headers and the head's size so far.
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._request: Request | None = None

    # --- asyncio --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._api.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._waiting.clear()
        self._api.clients.discard(self)

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
        if self._head_size > HEAD_LIMIT:
            raise ValueError(f"the request's head is over {HEAD_LIMIT} bytes")

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
        request = Request("", "", {}, 0)  # no method: not observed, it was no request
        request.early = Reply(
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

    async def _answer_later(self, request: Request) -> None:
        reply = await self._api.answer_later(request)
        self.task = None
        if self._waiting and self._waiting[0] is request:
            self._waiting.popleft()
            if self._send(request, reply):
                self._answer()

    def _send(self, request: Request, reply: Reply) -> bool:
        """Write the reply; False when the connection ends with it."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        close = reply.close or request.close
        if reply.status == HTTPStatus.OK and reply.body is None and not reply.error and not close:
            transport.write(_OK)
        else:
            transport.write(response(reply, close))
        if request.method:  # the inspector's record, once the caller has its answer
            self._api.observe(request, reply, transport)
        if close:
            self._closing = True
            self._waiting.clear()
            transport.close()
            return False
        return True


class _Stop(Exception):
    """Parse no further: the request was answered from its head, and the connection ends."""
