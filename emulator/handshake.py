"""The upgrade to a WebSocket, as API Gateway decides it: the REQUEST authorizer, the
``$connect`` throttle, then ``$connect`` itself.

:func:`accept` answers one upgrade request with a refusal (the HTTP response API
Gateway would give) or the connection's :class:`~emulator.events.ConnectionInfo` and
the subprotocol ``$connect`` chose; the gateway keeps that until the socket opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from emulator import events
from emulator.api import ApiConfig
from emulator.events import ConnectionInfo
from emulator.functions import FunctionSpec
from emulator.quotas import TokenBucket
from emulator.routing import Invoke, log_failure, now_ms
from emulator.runner import InvocationError

Accepted = tuple[ConnectionInfo, str | None]  # the connection and its subprotocol, if any


async def accept(
    connection: ServerConnection,
    request: Request,
    api: ApiConfig,
    stage: str,
    domain_name: str,
    functions: Mapping[str, FunctionSpec],
    buckets: Mapping[str, TokenBucket],
    invoke: Invoke,
) -> Response | Accepted:
    """Decide the upgrade ``request`` on ``/{stage}``: a refusal, or what was accepted."""
    url = urlsplit(request.path)
    if url.path.rstrip("/") != f"/{stage}":
        return connection.respond(HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}')
    now = now_ms()
    info = ConnectionInfo(
        connection_id=events.new_connection_id(),
        api_id=api.api_id,
        stage=stage,
        domain_name=domain_name,
        connected_at=now,
        source_ip=str(connection.remote_address[0]),
        user_agent=request.headers.get("User-Agent"),
        headers=list(request.headers.raw_items()),
        query=parse_qsl(url.query, keep_blank_values=True),
    )
    if api.authorizer is not None:
        refusal, info = await authorize(connection, info, api, functions, invoke)
        if refusal is not None:
            return refusal
    subprotocol: str | None = None
    connect_route = api.routes.get("$connect")
    connect_bucket = buckets.get("$connect")
    if connect_bucket is not None and not connect_bucket.take():
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, '{"message":"Too Many Requests"}')
    if connect_route is not None:
        function = connect_route.function
        request_id = events.new_request_id()
        event = events.connect_event(info, request_id, now)
        try:
            result = await invoke(function, event, request_id, info.connection_id)
        except InvocationError as exc:
            log_failure("route $connect", exc)
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
        status = status_of(result)
        if not 200 <= status < 300:
            body = result.get("body") if isinstance(result, dict) else None
            return connection.respond(status, str(body or HTTPStatus(status).phrase))
        headers = result.get("headers") if isinstance(result, dict) else None
        if isinstance(headers, dict):
            subprotocol = next(
                (str(v) for k, v in headers.items() if k.lower() == "sec-websocket-protocol"),
                None,
            )
    return info, subprotocol


async def authorize(
    connection: ServerConnection,
    info: ConnectionInfo,
    api: ApiConfig,
    functions: Mapping[str, FunctionSpec],
    invoke: Invoke,
) -> tuple[Response | None, ConnectionInfo]:
    """Run the REQUEST authorizer: 401 without its identity, 403 on Deny."""
    authorizer = api.authorizer
    assert authorizer is not None
    if not events.has_identity(info, authorizer.identity_sources):
        return connection.respond(HTTPStatus.UNAUTHORIZED, '{"message":"Unauthorized"}'), info
    spec = functions[authorizer.function]
    request_id = events.new_request_id()
    event = events.authorizer_event(info, spec.arn, request_id, now_ms())
    try:
        result = await invoke(authorizer.function, event, request_id, info.connection_id)
    except InvocationError as exc:
        log_failure("the authorizer", exc)
        return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error"), info
    context = events.authorizer_context(result)
    if context is None:
        return connection.respond(HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}'), info
    return None, replace(info, authorizer=context)


def status_of(result: Any) -> int:
    """A ``$connect`` result's status: no status code means success, as on AWS."""
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return HTTPStatus(int(result["statusCode"])).value
        except (TypeError, ValueError):
            return 500  # not an HTTP status: API Gateway treats it as a failed integration
    return 200
