"""API Gateway WebSocket events, built as AWS builds them. Pure: ids and times come in.

Shapes follow AWS's developer guide and captured events (the aws-lambda-go and
Powertools fixtures): every event has ``requestContext`` with the connection's
fields; ``$connect`` adds the upgrade request's headers and query string, message
routes add ``body`` and ``messageId``, ``$disconnect`` adds the close status.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONNECT, MESSAGE, DISCONNECT = "CONNECT", "MESSAGE", "DISCONNECT"


@dataclass(frozen=True)
class ConnectionInfo:
    """What API Gateway knows of a connection from its upgrade request."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    connected_at: int  # epoch milliseconds
    source_ip: str
    user_agent: str | None = None
    headers: Sequence[tuple[str, str]] = ()
    query: Sequence[tuple[str, str]] = ()
    authorizer: dict[str, Any] | None = field(default=None)


def new_connection_id() -> str:
    """Shaped like AWS's (``L0SM9cOFvHcCIhw=``), URL-safe so it fits in a path."""
    return base64.urlsafe_b64encode(secrets.token_bytes(10)).decode()


def new_request_id() -> str:
    return base64.b64encode(secrets.token_bytes(12)).decode().replace("/", "_")


def clf_time(epoch_ms: int) -> str:
    """``requestTime`` in Common Log Format: ``24/Nov/2026:19:47:55 +0000``."""
    return _clf_second(epoch_ms // 1000)


@functools.lru_cache(maxsize=4)
def _clf_second(epoch_s: int) -> str:
    # Whole seconds: every event of one second shares the string (formatted once).
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
        single[key] = value  # AWS keeps the last value of a repeated key
    return single, multi


def _context(
    info: ConnectionInfo,
    route_key: str,
    event_type: str,
    request_id: str,
    now_ms: int,
    *,
    with_user_agent: bool,
) -> dict[str, Any]:
    identity: dict[str, Any] = {"sourceIp": info.source_ip}
    if with_user_agent and info.user_agent is not None:
        identity["userAgent"] = info.user_agent
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(now_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": identity,
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = info.authorizer
    return context


def connect_event(info: ConnectionInfo, request_id: str, now_ms: int) -> dict[str, Any]:
    headers, multi_headers = _multi(info.headers)
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": _context(
            info, "$connect", CONNECT, request_id, now_ms, with_user_agent=True
        ),
        "isBase64Encoded": False,
    }
    if info.query:
        query, multi_query = _multi(info.query)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(
    info: ConnectionInfo,
    route_key: str,
    body: str | bytes,
    request_id: str,
    message_id: str,
    now_ms: int,
) -> dict[str, Any]:
    context = _context(info, route_key, MESSAGE, request_id, now_ms, with_user_agent=False)
    context["messageId"] = message_id
    if isinstance(body, bytes):
        return {
            "requestContext": context,
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    info: ConnectionInfo, status_code: int, reason: str, request_id: str, now_ms: int
) -> dict[str, Any]:
    context = _context(info, "$disconnect", DISCONNECT, request_id, now_ms, with_user_agent=True)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    host = dict(info.headers).get("Host", info.domain_name)
    headers = {"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def has_identity(info: ConnectionInfo, identity_sources: Sequence[str]) -> bool:
    """Whether every identity source (``route.request.header.X`` or
    ``route.request.querystring.x``) is present and non-empty in the upgrade request."""
    headers = {k.lower(): v for k, v in info.headers}
    query = dict(info.query)
    for source in identity_sources:
        kind, _, name = source.removeprefix("route.request.").partition(".")
        value = headers.get(name.lower()) if kind == "header" else query.get(name)
        if not value:
            return False
    return True


def authorizer_event(
    info: ConnectionInfo, authorizer_arn: str, request_id: str, now_ms: int
) -> dict[str, Any]:
    """What a Lambda REQUEST authorizer receives for ``$connect``."""
    region, account = authorizer_arn.split(":")[3:5]
    event = connect_event(info, request_id, now_ms)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{region}:{account}:{info.api_id}/{info.stage}/$connect",
        "headers": event["headers"],
        "multiValueHeaders": event["multiValueHeaders"],
        "queryStringParameters": event.get("queryStringParameters", {}),
        "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters", {}),
        "stageVariables": {},
        "requestContext": event["requestContext"],
    }


def authorizer_context(result: Any) -> dict[str, Any] | None:
    """The ``requestContext.authorizer`` an Allow policy grants, or None for a Deny.

    Allowed only when some statement allows ``execute-api:Invoke`` and none denies it.
    """
    if not isinstance(result, dict):
        return None
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects = {
        str(s.get("Effect", "")).lower()
        for s in statements
        if isinstance(s, dict)
        and {"execute-api:Invoke", "execute-api:*", "*"} & set(_as_list(s.get("Action")))
    }
    if "allow" not in effects or "deny" in effects:
        return None
    context: dict[str, Any] = {"principalId": result.get("principalId", "")}
    context.update(result.get("context") or {})
    return context


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def select_route(expression: str, body: str | bytes, route_keys: Sequence[str]) -> str | None:
    """Evaluate a ``$request.body.<path>`` selection expression against a frame.

    Returns the matching route key, else ``$default`` when the API has one, else None
    (the caller answers ``Forbidden``).
    """

    fallback = "$default" if "$default" in route_keys else None
    prefix = "$request.body."
    if not expression.startswith(prefix) or isinstance(body, bytes):
        return fallback
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        return fallback
    for part in expression[len(prefix) :].split("."):
        if not isinstance(value, dict) or part not in value:
            return fallback
        value = value[part]
    if isinstance(value, str) and value in route_keys and not value.startswith("$"):
        return value
    return fallback
