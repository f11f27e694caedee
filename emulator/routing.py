"""An open connection's frames: route selection, the route's integration, ``$disconnect``.

Each function takes what it needs from the gateway (the API, the stage throttles, the
observer) and an ``invoke`` that runs a function when the connection's turn for a
worker comes (:meth:`emulator.gateway.Gateway._invoke`).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from emulator import events
from emulator.api import ApiConfig
from emulator.inspector.observer import Observer
from emulator.quotas import TokenBucket
from emulator.runner import InvocationError
from emulator.session import Session

log = logging.getLogger("emulator.gateway")


# Runs a function (name, event, request id) in the connection's turn for one of its
# workers; see ``Gateway._invoke``.
Invoke = Callable[[str, dict[str, Any], str, str], Awaitable[Any]]


class Dropped(Exception):
    """A frame that still waited for a worker when the gateway began to stop."""


def now_ms() -> int:
    return int(time.time() * 1000)


def log_failure(what: str, exc: InvocationError) -> None:
    """Two lines on the terminal: what failed and why, then where the full log is."""
    where = f"\n  log: {exc.log_path}" if exc.log_path is not None else ""
    log.warning("%s: %s failed: %s%s", what, exc.function, exc.detail, where)


async def route_frame(
    connection: Session,
    frame: str,
    api: ApiConfig,
    buckets: Mapping[str, TokenBucket],
    invoke: Invoke,
    observer: Observer | None,
) -> None:
    """Select ``frame``'s route, take a token from its throttle and run its function;
    a two-way route's response goes back to the caller. ``invoke`` raises Dropped for a
    frame still waiting for a worker when the gateway stops."""
    info = connection.info
    request_id = events.new_request_id()
    route = events.select_route(api.route_selection_expression, frame, list(api.routes))
    if observer is not None:
        observer.frame_in(info.connection_id, frame, route, request_id)
    if route is None:
        reply_error(connection, "Forbidden", request_id, observer)
        return
    target = api.routes[route]
    bucket = buckets.get(route)
    if bucket is not None and not bucket.take():
        reply_error(connection, "Too Many Requests", request_id, observer)
        return
    body: str | bytes = frame
    if target.content_handling == "CONVERT_TO_BINARY":
        try:
            body = base64.b64decode(frame, validate=True)
        except ValueError:
            log.warning("route %s: CONVERT_TO_BINARY needs a base64 text frame", route)
            reply_error(connection, "Internal server error", request_id, observer)
            return
    event = events.message_event(info, route, body, request_id, events.new_request_id(), now_ms())
    try:
        result = await invoke(target.function, event, request_id, info.connection_id)
    except Dropped:
        return  # the gateway is stopping: the connection is closing too
    except InvocationError as exc:
        log_failure(f"route {route}", exc)
        reply_error(connection, "Internal server error", request_id, observer)
        return
    if target.two_way and isinstance(result, dict) and result.get("body") is not None:
        # A route response: the integration's body goes back to the caller.
        connection.outbox.put_text(str(result["body"]))
        if observer is not None:
            observer.frame_out(info.connection_id, str(result["body"]), "reply")


def reply_error(
    connection: Session, message: str, request_id: str, observer: Observer | None
) -> None:
    """API Gateway's error frame: ``{"message", "connectionId", "requestId"}``."""
    reply = {
        "message": message,
        "connectionId": connection.info.connection_id,
        "requestId": request_id,
    }
    text = json.dumps(reply)
    connection.outbox.put_text(text)
    if observer is not None:
        observer.frame_out(connection.info.connection_id, text, "error")


async def disconnected(
    connection: Session, api: ApiConfig, invoke: Invoke, observer: Observer | None
) -> None:
    """Tell the observer, then ``$disconnect`` (if routed), with the close status."""
    code, reason = close_status(connection)
    if observer is not None:
        observer.disconnected(connection.info.connection_id, code, reason)
    route = api.routes.get("$disconnect")
    if route is None:
        return
    function = route.function
    request_id = events.new_request_id()
    event = events.disconnect_event(connection.info, code, reason, request_id, now_ms())
    try:
        await invoke(function, event, request_id, connection.info.connection_id)
    except InvocationError as exc:
        log_failure("route $disconnect", exc)


def close_status(connection: Session) -> tuple[int, str]:
    """The status ``$disconnect`` reports: whoever closed first decides it."""
    if connection.closed_by_server is not None:
        return connection.closed_by_server
    protocol = connection.socket.protocol
    sent, received = protocol.close_sent, protocol.close_rcvd
    if sent is not None and (received is None or protocol.close_rcvd_then_sent is False):
        return sent.code, sent.reason  # the gateway closed it (e.g. 1009, message too big)
    if received is not None:
        return received.code, received.reason
    return 1006, "Connection closed abnormally"
