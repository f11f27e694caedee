"""The ``@connections`` management API, over HTTPS, as handlers reach it with boto3.

``POST /{stage}/@connections/{id}`` sends, ``GET`` describes, ``DELETE`` closes.
Unknown, closed and still-connecting ids get 410 ``GoneException``; data over the
message limit gets 413 ``PayloadTooLargeException``. Requests are served on threads
and handed to the gateway's event loop. Signatures are not checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
from collections.abc import Coroutine
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote

from emulator.tls import Certificates

log = logging.getLogger("emulator.connections")


class Gone(Exception):
    """No open connection with that id."""


class PayloadTooLarge(Exception):
    """The data is over the message size limit."""


class _Internal(Exception):
    """The gateway failed to serve a request; the caller gets a 500."""


class ConnectionsBackend(Protocol):
    """What the API needs from the gateway; all of it runs on the gateway's loop."""

    async def post(self, connection_id: str, data: bytes) -> None: ...

    async def describe(self, connection_id: str) -> dict[str, Any]: ...

    async def close(self, connection_id: str) -> None: ...


class ConnectionsApi:
    def __init__(
        self,
        backend: ConnectionsBackend,
        loop: asyncio.AbstractEventLoop,
        stage: str,
        certificates: Certificates,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        handler = _handler_class(backend, loop, stage)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.cert_path, certificates.key_path)
        self._server.socket = context.wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="connections-api", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler_class(
    backend: ConnectionsBackend, loop: asyncio.AbstractEventLoop, stage: str
) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{stage}/@connections/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def _connection_id(self) -> str | None:
            path = self.path.split("?", 1)[0]
            if not path.startswith(prefix) or len(path) == len(prefix):
                self._reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")
                return None
            return unquote(path[len(prefix) :])

        def _call(self, call: Coroutine[Any, Any, Any]) -> Any:
            try:
                return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=30)
            except (Gone, PayloadTooLarge):
                raise
            except Exception as exc:
                log.exception("@connections request failed")
                raise _Internal from exc

        def _reply(
            self, status: HTTPStatus, body: dict[str, Any] | None, error: str | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

        def _gone(self, connection_id: str) -> None:
            self._reply(
                HTTPStatus.GONE, {"message": f"Connection {connection_id} is gone"}, "GoneException"
            )

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except _Internal:
                self._reply(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"message": "Internal server error"},
                    "InternalServerErrorException",
                )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            connection_id = self._connection_id()
            if connection_id is None:
                return
            try:
                self._call(backend.post(connection_id, data))
            except Gone:
                self._gone(connection_id)
            except PayloadTooLarge as exc:
                self._reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"message": str(exc)},
                    "PayloadTooLargeException",
                )
            else:
                self._reply(HTTPStatus.OK, None)

        def do_GET(self) -> None:
            connection_id = self._connection_id()
            if connection_id is None:
                return
            try:
                description = self._call(backend.describe(connection_id))
            except Gone:
                self._gone(connection_id)
            else:
                self._reply(HTTPStatus.OK, description)

        def do_DELETE(self) -> None:
            connection_id = self._connection_id()
            if connection_id is None:
                return
            try:
                self._call(backend.close(connection_id))
            except Gone:
                self._gone(connection_id)
            else:
                self._reply(HTTPStatus.NO_CONTENT, None)

    return Handler
