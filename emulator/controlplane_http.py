"""The control plane's HTTP server: moto's, with connections kept open between requests.

werkzeug's development server, which moto's runs on, ends every response with
``Connection: close``: ``http.server`` can't tell where a body the application left
unread ends, so the next request couldn't be found. Each SDK call a function made
paid a new TCP connection and a new server thread for it. Here each request's body is
read whole before moto sees it (chunked or ``Content-Length``), so the next request
starts where it ended, and HTTP/1.1 connections stay open; one idle for
:data:`IDLE_SECONDS` is closed (an SDK opens a new one when it finds it closed), and
the ones still open are closed when the server stops, so that no kept connection
reaches a stopped control plane.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer

IDLE_SECONDS = 60.0  # Lambda's workers here are retired after 120 s idle


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # between requests (and within one: a stalled client)
    disable_nagle_algorithm = True  # the head and the body are written apart
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self._socket_file = self.rfile
        self._kept = False  # this request's body is read whole: the connection may stay
        self.server.opened(self.connection)

    def finish(self) -> None:
        self.server.closed(self.connection)
        self.rfile = self._socket_file  # closed with the connection
        super().finish()

    def handle_one_request(self) -> None:
        self.rfile = self._socket_file  # put back after the last request's answer
        self._kept = False
        super().handle_one_request()

    def make_environ(self) -> Any:
        environ = super().make_environ()
        if self.command == "HEAD" or self.request_version != "HTTP/1.1":
            # A HEAD's answer may carry a body werkzeug writes anyway (the guard's own
            # refusals), and HTTP/1.0 keeps nothing unless both sides say so: close.
            self.close_connection = True
            return environ
        stream = environ["wsgi.input"]
        try:
            if environ.get("wsgi.input_terminated"):  # chunked: read to its last chunk
                body = stream.read()
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = stream.read(length) if length > 0 else b""
        except (ValueError, OSError):
            # No length that can be read up to: answer as moto does, then close.
            self.close_connection = True
            return environ
        environ["wsgi.input"] = io.BytesIO(body)
        self._kept = True
        # Once it has answered, werkzeug reads whatever the client sent next and throws
        # it away (it closes every connection, so that can only be an unread body):
        # with the connection kept, that is the next request. It reads this instead.
        self.rfile = io.BytesIO()
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if (
            self._kept
            and not self.close_connection
            and keyword.lower() == "connection"
            and value.lower() == "close"
        ):
            return  # werkzeug's blanket close: this request's body is read whole
        # (http.server's own errors, a 414 or a 431, close as they say)
        super().send_header(keyword, value)

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # a connection idle past IDLE_SECONDS: closed, nothing went wrong
        super().log_error(format, *args)


class KeepAliveServer(ThreadedWSGIServer):
    """werkzeug's threaded server with :class:`KeepAliveHandler`, closing every
    connection still open when it is shut down."""

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(host, port, app, handler=KeepAliveHandler)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            if not self._stopped:
                self._open.add(connection)
                return
        with contextlib.suppress(OSError):  # accepted as the server stopped
            connection.shutdown(socket.SHUT_RDWR)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()  # no new connection is accepted either
        with self._lock:
            self._stopped = True
            still_open, self._open = self._open, set()
        for connection in still_open:
            with contextlib.suppress(OSError):  # closed meanwhile
                connection.shutdown(socket.SHUT_RDWR)  # its thread reads the end, and ends
