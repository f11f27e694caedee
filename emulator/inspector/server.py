"""The inspector's page, on a loopback port of its own, and the stream that feeds it.

``GET /`` is a page of plain HTML, CSS and ES modules (``static/``; no framework, no
build step) whose Content-Security-Policy allows only its own scripts, styles and
stream. ``/stream`` is a WebSocket: first every entry the record holds, then, every
``BATCH_SECONDS``, the entries added or changed since (an entry that changed twice
is sent once, as it is now). A page that reads too slowly is sent the whole record
again instead of an ever longer backlog, so a stream's memory stays bounded. The page
asks over the same socket for an invocation's details and for the actions
(:mod:`~emulator.inspector.actions`).

A local server is reachable from every web page the browser opens, so requests whose
``Host`` isn't this server's own loopback name are refused (DNS rebinding), and so is a
stream opened from another origin: the stream carries the API's traffic and its
actions can send frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from emulator.inspector.actions import ActionError, Actions
from emulator.inspector.record import Entry, InvocationEntry, Record

log = logging.getLogger("emulator.inspector")

STATIC = Path(__file__).with_name("static")
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/inspector.css": ("inspector.css", "text/css; charset=utf-8"),
    "/inspector.js": ("inspector.js", "text/javascript; charset=utf-8"),
    "/view.js": ("view.js", "text/javascript; charset=utf-8"),
    "/state.js": ("state.js", "text/javascript; charset=utf-8"),
}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = (
    ("Content-Security-Policy", POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
BATCH_SECONDS = 0.1
BACKLOG = 5000  # entries waiting for one page; past it the page gets the record again
LOOPBACK = "127.0.0.1"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class InspectorServer:
    """Serves the inspector of ``record`` on ``http://127.0.0.1:port/`` (0 picks one)."""

    def __init__(self, record: Record, actions: Actions, port: int = 0) -> None:
        self.record = record
        self.actions = actions
        self._port = port
        self._server: Server | None = None
        self._streams: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    async def start(self) -> None:
        self._server = await serve(
            self._stream,
            LOOPBACK,
            self._port,
            process_request=self._request,
            max_size=256 * 1024,  # an action: at most a message to send
            ping_interval=None,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- HTTP --------------------------------------------------------------------------

    def _own_host(self, host: str | None) -> bool:
        return host in (f"{LOOPBACK}:{self.port}", f"localhost:{self.port}")

    def _request(self, connection: ServerConnection, request: Request) -> Response | None:
        hosts = request.headers.get_all("Host")
        host = hosts[0] if len(hosts) == 1 else None
        if not self._own_host(host):
            return _respond(HTTPStatus.MISDIRECTED_REQUEST, b"Not this server's name\n")
        path = request.path.split("?", 1)[0]
        if path == "/stream":
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"http://{host}":
                return _respond(HTTPStatus.FORBIDDEN, b"Another origin's page\n")
            return None  # the WebSocket handshake goes on
        if path not in FILES:
            return _respond(HTTPStatus.NOT_FOUND, b"Not found\n")
        name, content_type = FILES[path]
        return _respond(HTTPStatus.OK, (STATIC / name).read_bytes(), content_type)

    # --- the stream ------------------------------------------------------------------

    async def _stream(self, socket: ServerConnection) -> None:
        pending: dict[int, Entry] = {}
        changed = asyncio.Event()
        overflowed = False

        def heard(entry: Entry) -> None:
            nonlocal overflowed
            if len(pending) >= BACKLOG:
                overflowed = True
                pending.clear()
            pending[entry.seq] = entry
            changed.set()

        stop_listening = self.record.listen(heard)
        sender = asyncio.create_task(
            self._send_changes(socket, pending, changed, lambda: overflowed)
        )
        try:
            await socket.send(_json(self._hello()))
            async for message in socket:
                answer = await self._answer(message)
                await socket.send(_json(answer))
        except ConnectionClosed:
            pass
        finally:
            stop_listening()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    def _hello(self) -> dict[str, Any]:
        record = self.record
        entries: list[Entry] = [
            *record.connections(),
            *record.frames(),
            *record.invocations(),
            *record.calls(),
        ]
        entries.sort(key=lambda e: e.seq)
        return {
            "type": "hello",
            "api": record.api,
            "limits": {
                "frames": record.limits.frames,
                "invocations": record.limits.invocations,
                "calls": record.limits.calls,
                "closedConnections": record.limits.closed_connections,
            },
            "entries": [e.to_json() for e in entries],
        }

    async def _send_changes(
        self,
        socket: ServerConnection,
        pending: dict[int, Entry],
        changed: asyncio.Event,
        overflowed: Any,
    ) -> None:
        while True:
            await changed.wait()
            await asyncio.sleep(BATCH_SECONDS)
            changed.clear()
            if overflowed():
                pending.clear()
                await socket.send(_json(self._hello()))
                continue
            batch = [entry.to_json() for entry in pending.values()]
            pending.clear()
            if batch:
                await socket.send(_json({"type": "entries", "entries": batch}))

    async def _answer(self, message: str | bytes) -> dict[str, Any]:
        """Do what the page asked; the answer names the request's ``id``."""
        try:
            request = json.loads(message)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            return {"type": "answer", "id": None, "ok": False, "error": "not a JSON request"}
        ident = request.get("id")
        try:
            body = await self._act(str(request.get("action")), request)
        except ActionError as exc:
            return {"type": "answer", "id": ident, "ok": False, "error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"type": "answer", "id": ident, "ok": False, "error": f"bad request: {exc}"}
        return {"type": "answer", "id": ident, "ok": True, "body": body}

    async def _act(self, action: str, request: dict[str, Any]) -> Any:
        actions = self.actions
        if action == "detail":
            entry = self.record.invocation(int(request["invocation"]))
            if not isinstance(entry, InvocationEntry):
                raise ActionError("that invocation is no longer in the history")
            return entry.to_json(detail=True)
        if action == "send":
            actions.send(str(request["connectionId"]), request["data"])
            return None
        if action == "disconnect":
            await actions.disconnect(str(request["connectionId"]))
            return None
        if action == "replay":
            return await actions.replay(int(request["invocation"]))
        raise ActionError(f"no action {action!r}")


def _respond(status: HTTPStatus, body: bytes, content_type: str = "text/plain") -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    for name, value in HEADERS:
        headers[name] = value
    return Response(status.value, status.phrase, headers, body)
