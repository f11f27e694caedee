"""The Lambda Runtime API, served to one execution environment on loopback.

Lambda gives each execution environment an HTTP endpoint in ``AWS_LAMBDA_RUNTIME_API``;
the runtime in it (our Node.js client, or a custom runtime's ``bootstrap``) asks it
for work and answers there, and never knows it isn't on Lambda. This is that
endpoint, version ``2018-06-01``, as AWS documents it:

- ``GET /2018-06-01/runtime/invocation/next``: blocks until there is an invocation,
  then 200 with the event as its body and the ``Lambda-Runtime-Aws-Request-Id``,
  ``-Deadline-Ms``, ``-Invoked-Function-Arn``, ``-Trace-Id`` headers (and
  ``-Client-Context``, ``-Cognito-Identity`` when the invocation has them).
- ``POST …/invocation/{id}/response``: the result; 202. An id that isn't the
  invocation in progress is 400 (``InvalidRequestID``); a body over 6 MB is 413.
- ``POST …/invocation/{id}/error``: the function's error (a JSON body with
  ``errorMessage``, ``errorType``, ``stackTrace``; the type may also come in the
  ``Lambda-Runtime-Function-Error-Type`` header); 202.
- ``POST /2018-06-01/runtime/init/error``: initialisation failed; 202, and the error
  answers the first invocation. After the first ``next`` it is 403.

One invocation at a time, as on Lambda. A request a browser sends (it carries
``Origin`` or ``Sec-Fetch-Mode``) is refused with 403: loopback is reachable from any
web page the user has open. The HTTP is h11's; the server runs on the runner's event
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11

VERSION = "2018-06-01"
RESPONSE_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response limit
_ROUTE = re.compile(
    rf"/{VERSION}/runtime/(?:(?P<next>invocation/next)|(?P<init>init/error)"
    r"|invocation/(?P<id>[^/]+)/(?P<what>response|error))"
)
_READ_CHUNK = 65536


@dataclass(frozen=True)
class Invocation:
    """One event for the runtime, with what Lambda tells it in headers."""

    request_id: str
    event: bytes  # the event, as JSON
    deadline_ms: int
    function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None

    def headers(self) -> list[tuple[str, str]]:
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
        ]
        if self.client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", self.client_context))
        if self.cognito_identity is not None:
            headers.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
        return headers


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended, as the runtime said it."""

    kind: str  # "response", "error", "init_error" or "too_large"
    body: bytes = b""
    error_type: str | None = None  # the Lambda-Runtime-Function-Error-Type header

    def reply(self) -> dict[str, Any]:
        """As the runner's workers answer: ``{"result": …}`` or ``{"error": {…}}``."""
        if self.kind == "response":
            text = self.body.decode(errors="replace")
            try:
                return {"result": json.loads(text) if text.strip() else None}
            except ValueError:
                return {"result": text}
        try:
            error = json.loads(self.body)
        except ValueError:
            error = None
        if not isinstance(error, dict):
            message = self.body.decode(errors="replace")
            error = {"errorMessage": message} if message else {}
        default = "Runtime.Unknown" if self.kind == "error" else "Runtime.InitError"
        return {
            "error": {
                "errorType": str(error.get("errorType") or self.error_type or default),
                "errorMessage": str(error.get("errorMessage", "")),
                "stackTrace": _trace(error.get("stackTrace", error.get("trace"))),
            }
        }


def _trace(value: Any) -> list[str]:
    if isinstance(value, list):
        return [f"{line}\n" for line in map(str, value)]
    return []


def _error_body(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class _Answer(Exception):
    """Ends a request with this status and body."""

    def __init__(self, status: HTTPStatus, body: bytes, close: bool = False) -> None:
        super().__init__(status.phrase)
        self.status = status
        self.body = body
        self.close = close


class RuntimeApi:
    """One execution environment's Runtime API endpoint, on ``host`` (port 0: any)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: asyncio.Server | None = None
        self._queue: asyncio.Queue[Invocation] = asyncio.Queue()
        self._current: Invocation | None = None
        self._outcome: asyncio.Future[Outcome] | None = None
        self._init_error: Outcome | None = None
        self._initialised = False  # the runtime asked for its first invocation
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def address(self) -> str:
        """``host:port``, as ``AWS_LAMBDA_RUNTIME_API`` holds it."""
        assert self._server is not None, "start() first"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, self._host, 0)
        return self.address

    async def invoke(self, invocation: Invocation) -> Outcome:
        """Hand ``invocation`` to the runtime and wait for how it ends."""
        if self._init_error is not None:
            outcome, self._init_error = self._init_error, None
            return outcome
        self._outcome = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(invocation)
        try:
            return await self._outcome
        finally:
            self._outcome = None
            self._current = None
            while not self._queue.empty():  # not taken (the caller gave up): withdrawn
                self._queue.get_nowait()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Hang up on the runtime: each connection's task sees the end and finishes (a
        # cancelled one would make asyncio's stream callback raise).
        for writer in list(self._connections.values()):
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    # --- HTTP ----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await self._serve(reader, writer)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        while True:
            request, body = await self._read_request(connection, reader)
            if request is None:
                return
            try:
                status, headers, payload = await self._handle(request, body, reader)
                close = False
            except _Answer as answer:
                status, payload, close = answer.status, answer.body, answer.close
                headers = [("Content-Type", "application/json")]
            headers = [*headers, ("Content-Length", str(len(payload)))]
            if close:
                headers.append(("Connection", "close"))
            # One write: the status line, headers and body leave in one segment.
            response = connection.send(h11.Response(status_code=status, headers=headers))
            body = connection.send(h11.Data(data=payload)) if payload else b""
            writer.write(b"".join([response, body, connection.send(h11.EndOfMessage())]))
            await writer.drain()
            if close or connection.our_state is not h11.DONE:
                return
            connection.start_next_cycle()

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes | None]:
        """The next request and its body; the body is None when it is over the limit."""
        request: h11.Request | None = None
        body = bytearray()
        too_large = False
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_CHUNK)
                connection.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None, None
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                if len(body) + len(event.data) > RESPONSE_LIMIT:
                    too_large = True
                    body.clear()
                elif not too_large:
                    body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, None if too_large else bytes(body)

    async def _handle(
        self, request: h11.Request, body: bytes | None, reader: asyncio.StreamReader
    ) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        path = request.target.decode(errors="replace").split("?", 1)[0]
        method = request.method.decode()
        if _header(request, b"origin") or _header(request, b"sec-fetch-mode"):
            # A web page the user has open can reach loopback too: a GET next from it
            # would take an invocation. Browsers mark their requests; runtimes don't.
            raise _Answer(HTTPStatus.FORBIDDEN, _error_body("not from a browser", "Forbidden"))
        route = _ROUTE.fullmatch(path)
        if route is None:
            raise _Answer(HTTPStatus.NOT_FOUND, _error_body(f"no route {path}", "NotFound"))
        expected = "GET" if route["next"] else "POST"
        if method != expected:
            raise _Answer(
                HTTPStatus.METHOD_NOT_ALLOWED,
                _error_body(f"{method} {path}: use {expected}", "MethodNotAllowed"),
            )
        if route["next"]:
            invocation = await self._next(reader)
            return HTTPStatus.OK, invocation.headers(), invocation.event
        error_type = _header(request, b"lambda-runtime-function-error-type")
        if route["init"]:
            return self._on_init_error(body, error_type)
        return self._on_result(route["id"], route["what"], body, error_type)

    async def _next(self, reader: asyncio.StreamReader) -> Invocation:
        """Wait for an invocation; a runtime that hangs up meanwhile gets none."""
        self._initialised = True
        self._current = None
        taken = asyncio.ensure_future(self._queue.get())
        hung_up = asyncio.ensure_future(reader.read(1))  # a GET has no body: EOF or nothing
        try:
            await asyncio.wait({taken, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (hung_up, taken):
                if not task.done():
                    task.cancel()
            # Wait for the read to be withdrawn: the stream takes one reader at a time.
            await asyncio.gather(hung_up, taken, return_exceptions=True)
        if taken.cancelled():
            raise ConnectionResetError("the runtime hung up while waiting")
        if hung_up.done() and not hung_up.cancelled():
            self._queue.put_nowait(taken.result())  # for the next runtime that asks
            raise ConnectionResetError("the runtime hung up while waiting")
        self._current = taken.result()
        return self._current

    def _on_init_error(
        self, body: bytes | None, error_type: str | None
    ) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        if self._initialised:
            raise _Answer(
                HTTPStatus.FORBIDDEN,
                _error_body("init/error after the first invocation/next", "InvalidStateTransition"),
            )
        outcome = Outcome("init_error", body or b"", error_type)
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)
        else:
            self._init_error = outcome
        return _accepted()

    def _on_result(
        self, request_id: str, what: str, body: bytes | None, error_type: str | None
    ) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        current = self._current
        if current is None or current.request_id != request_id:
            raise _Answer(
                HTTPStatus.BAD_REQUEST,
                _error_body(f"no invocation {request_id} in progress", "InvalidRequestID"),
            )
        self._current = None
        if body is None:
            self._settle(Outcome("too_large"))
            raise _Answer(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _error_body(
                    f"Exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                    "RequestEntityTooLarge",
                ),
                close=True,
            )
        self._settle(Outcome(what, body, error_type))
        return _accepted()

    def _settle(self, outcome: Outcome) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)


def _accepted() -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
    return HTTPStatus.ACCEPTED, [("Content-Type", "application/json")], b'{"status":"OK"}'


def _header(request: h11.Request, name: bytes) -> str | None:
    for key, value in request.headers:
        if key.lower() == name:
            return bytes(value).decode(errors="replace")
    return None
