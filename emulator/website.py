"""Serves the website bucket over HTTP, as S3's static website hosting would.

moto keeps the bucket but doesn't serve it as a website, so this reads each object
from the emulated S3 and returns it with its stored content type and cache headers;
``/`` (with any query string) is the index document.

Every response also carries the security headers a careful host adds in front of a
bucket (S3's website endpoint itself can't; on AWS that takes a CloudFront response
headers policy): an HTML page's own ``<meta>`` Content-Security-Policy as a header,
with ``frame-ancestors 'none'``, which only a header can say; ``X-Frame-Options: DENY``
for browsers that predate it; and ``Referrer-Policy: no-referrer`` (the chat's invite
links carry a room id that the sites a message links to needn't learn).

Served on every interface (``--host 0.0.0.0``), the client's configuration would name the
WebSocket API at ``ws://0.0.0.0:…``, which no browser on another machine can reach: there,
the configuration file names the host the page itself was requested from instead, which
reaches this machine from wherever the browser is.
"""

from __future__ import annotations

import logging
import re
import threading
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

log = logging.getLogger("emulator.website")

INDEX_DOCUMENT = "index.html"
NO_FRAMING = "frame-ancestors 'none'"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
# A Host header's name (or [IPv6 address]) and port: nothing that could break out of a URL.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d+)?")
SECURITY_HEADERS = (
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)


class _MetaPolicy(HTMLParser):
    """Finds a page's ``<meta http-equiv="Content-Security-Policy" content=…>``."""

    def __init__(self) -> None:
        super().__init__()
        self.policy: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "meta" and values.get("http-equiv", "").lower() == "content-security-policy":
            self.policy = self.policy or values.get("content")


def content_security_policy(body: bytes, content_type: str) -> str:
    """The header for a response: an HTML page's own policy, and never to be framed."""
    policy = None
    if content_type.startswith("text/html"):
        parser = _MetaPolicy()
        parser.feed(body.decode("utf-8", errors="replace"))
        policy = parser.policy
    directives = [d.strip() for d in (policy or "").split(";") if d.strip()]
    if not any(d.split()[0].lower() == "frame-ancestors" for d in directives):
        directives.append(NO_FRAMING)
    return "; ".join(directives)


def as_requested(body: bytes, listening: str, host_header: str | None) -> bytes:
    """A configuration file that names the wildcard address ``listening`` (``0.0.0.0``)
    in URLs, with the host the browser asked for in its place (if it is a valid name)."""
    match = _HOST.fullmatch(host_header or "")
    if match is None:
        return body
    return body.replace(f"://{listening}:".encode(), f"://{match['name']}:".encode())


class WebsiteServer:
    """``config_file``: the client's configuration, whose URLs name where the gateway
    listens (see the module's docstring)."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        host: str = "127.0.0.1",
        port: int = 0,
        config_file: str | None = None,
    ) -> None:
        rewrite = config_file if host in WILDCARD_HOSTS else None
        self._server = ThreadingHTTPServer((host, port), _handler_class(s3, bucket, host, rewrite))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="website", daemon=True
        )
        self.host = host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler_class(
    s3: Any, bucket: str, listening: str, config_file: str | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def do_HEAD(self) -> None:
            self._serve(with_body=False)

        def do_GET(self) -> None:
            self._serve(with_body=True)

        def _serve(self, with_body: bool) -> None:
            self._with_body = with_body
            key = unquote(urlsplit(self.path).path).lstrip("/") or INDEX_DOCUMENT
            try:
                obj = s3.get_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
                self._send(
                    HTTPStatus(status if status in (403, 404) else 500),
                    b"Not found\n",
                    "text/plain; charset=utf-8",
                    "no-cache",
                )
                return
            body = obj["Body"].read()
            if key == config_file:
                body = as_requested(body, listening, self.headers.get("Host"))
            self._send(
                HTTPStatus.OK,
                body,
                obj.get("ContentType", "application/octet-stream"),
                obj.get("CacheControl", "no-cache"),
            )

        def _send(self, status: HTTPStatus, body: bytes, content_type: str, cache: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache)
            self.send_header("Content-Security-Policy", content_security_policy(body, content_type))
            for name, value in SECURITY_HEADERS:
                self.send_header(name, value)
            self.end_headers()
            if self._with_body:
                self.wfile.write(body)

    return Handler
