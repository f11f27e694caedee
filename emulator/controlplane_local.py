"""The emulator's own calls to its embedded control plane, answered without HTTP.

Deploy, the load of what it made and the website's reads are a few dozen to two hundred
calls (the chat: about two hundred), and over HTTP each paid for a socket, a thread of
moto's server, the request parsed on both sides and the response again: more than the
work moto does for most of them. :class:`InProcess` takes the place of a client's HTTP
session (``client._endpoint.http_session``: botocore has no public way to give a client
a transport of its own): it hands the signed request to the control plane's WSGI
application in the calling thread, with the environ its server would have built, and
gives botocore the answer as if it had come over the wire. It sits where the socket
was, so everything botocore does around a send (retries, ``before-send`` handlers that
answer instead, as the tests' throttling does) is unchanged. Everything in front of
moto (the guard, its locks, whatever middleware the control plane has) still sees every
call; only the transport is skipped. The functions' own clients, and anybody else's,
still reach the control plane over HTTP, as they would reach AWS.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)
from werkzeug.test import run_wsgi_app

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_NOT_PASSED = {"CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_EXPECT", "HTTP_HOST"}


class _Body(io.BytesIO):
    """An answer's body as botocore reads a urllib3 response: whole, or streamed."""

    def stream(self, amt: int = 1024 * 1024, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def _latin1(text: str) -> str:
    """A path as WSGI carries it: its UTF-8 bytes, each as one latin-1 character."""
    return text.encode().decode("latin-1")


def _request_body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()  # a file-like object: what urllib3 would have sent from it
    return data.encode() if isinstance(data, str) else bytes(data)


def environ_for(request: AWSPreparedRequest, body: bytes) -> dict[str, Any]:
    """The WSGI environ moto's server (werkzeug's, with moto's request handler) builds for
    this request."""
    url = urlsplit(request.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1(unquote(url.path)),
        "QUERY_STRING": _latin1(url.query),
        "REQUEST_URI": _latin1(target),
        "RAW_URI": _latin1(target),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": url.hostname or "",
        "SERVER_PORT": str(url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc,
        "CONTENT_LENGTH": str(len(body)),
    }
    headers = [
        (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for name, value in request.headers.items()
    ]
    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    preserved: dict[str, str] = {}
    for name, text in headers:
        key = environ_key_for_header(name)
        if key in _NOT_PASSED:
            continue  # the body is whole, and already here
        if "_" in name:  # as werkzeug's server drops them, and moto's keeps S3 metadata
            if not should_preserve_original_header_name(name) or key in dashed:
                continue
            preserved.setdefault(key, name)
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return environ


class InProcess:
    """An HTTP session for botocore answering from ``app()`` (the control plane's WSGI
    application as it is at the time of the call: middleware may be added later)."""

    def __init__(self, app: Callable[[], WsgiApp]) -> None:
        self._app = app

    def attach(self, client: Any) -> None:
        """Make ``client`` send its requests here."""
        client._endpoint.http_session = self

    def close(self) -> None:
        """Nothing to close (botocore closes a client's session with the client)."""

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        body = _request_body(request)
        # werkzeug's own runner: start_response, exc_info, and the answer closed once read.
        chunks, status, answer = run_wsgi_app(
            self._app(), environ_for(request, body), buffered=True
        )
        headers = HeadersDict()
        for name, value in answer.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        code = int(status.split(" ", 1)[0])
        return AWSResponse(request.url, code, headers, _Body(b"".join(chunks)))
