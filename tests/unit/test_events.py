"""Unit tests of ``emulator.events``: the API Gateway WebSocket events the emulator builds."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from pydantic import BaseModel

from emulator import events
from emulator.events import ConnectionInfo

CONNECTED_AT = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = CONNECTED_AT + 1_500
ROUTES = ("$connect", "$disconnect", "$default", "createRoom", "sendMessage")


def make_info(**overrides: Any) -> ConnectionInfo:
    """A connection as the gateway records it, with optional overrides."""
    fields: dict[str, Any] = {
        "connection_id": "L0SM9cOFvHcCIhw=",
        "api_id": "abc123",
        "stage": "dev",
        "domain_name": "abc123.execute-api.us-east-1.amazonaws.com",
        "connected_at": CONNECTED_AT,
        "source_ip": "203.0.113.7",
        "user_agent": "pytest-agent/1.0",
        "headers": (
            ("Host", "chat.example.com"),
            ("Sec-WebSocket-Version", "13"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-For", "198.51.100.1"),
        ),
        "query": (("name", "Ann"), ("key", "k1"), ("key", "k2")),
    }
    fields.update(overrides)
    return ConnectionInfo(**fields)


# --- clf_time / ids ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (999, "01/Jan/1970:00:00:00 +0000"),
        (CONNECTED_AT, "01/Jan/2026:00:00:00 +0000"),
        (1_795_549_675_000, "24/Nov/2026:19:47:55 +0000"),
    ],
)
def test_clf_time(epoch_ms: int, expected: str) -> None:
    """Epoch milliseconds format as a UTC Common Log Format time."""
    assert events.clf_time(epoch_ms) == expected


def test_new_connection_id_is_url_safe() -> None:
    """A connection id uses only URL-safe base64 characters and differs each time."""
    ids = {events.new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    for connection_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_=-]+", connection_id), connection_id
        assert base64.urlsafe_b64decode(connection_id)


def test_new_request_id_has_no_slash() -> None:
    """A request id contains no slash."""
    assert all("/" not in events.new_request_id() for _ in range(200))


# --- connect_event -----------------------------------------------------------------


def test_connect_event_headers() -> None:
    """Repeated headers all appear in multiValueHeaders; the last wins in headers."""
    event = events.connect_event(make_info(), "req-1", NOW)
    assert event["headers"] == {
        "Host": "chat.example.com",
        "Sec-WebSocket-Version": "13",
        "X-Forwarded-For": "198.51.100.1",
    }
    assert event["multiValueHeaders"] == {
        "Host": ["chat.example.com"],
        "Sec-WebSocket-Version": ["13"],
        "X-Forwarded-For": ["203.0.113.7", "198.51.100.1"],
    }


def test_connect_event_query() -> None:
    """The query string appears in both query maps; the last value wins in the single map."""
    event = events.connect_event(make_info(), "req-1", NOW)
    assert event["queryStringParameters"] == {"name": "Ann", "key": "k2"}
    assert event["multiValueQueryStringParameters"] == {"name": ["Ann"], "key": ["k1", "k2"]}


def test_connect_event_without_query() -> None:
    """Without a query string, neither query map is present."""
    event = events.connect_event(make_info(query=()), "req-1", NOW)
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


def test_connect_event_is_not_base64() -> None:
    """A connect event is not base64-encoded."""
    assert events.connect_event(make_info(), "req-1", NOW)["isBase64Encoded"] is False


def test_connect_event_request_context() -> None:
    """A connect event's requestContext carries the connection and request fields."""
    context = events.connect_event(make_info(), "req-1", NOW)["requestContext"]
    assert context == {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "req-1",
        "requestTime": "01/Jan/2026:00:00:01 +0000",
        "messageDirection": "IN",
        "stage": "dev",
        "connectedAt": CONNECTED_AT,
        "requestTimeEpoch": NOW,
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest-agent/1.0"},
        "requestId": "req-1",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "connectionId": "L0SM9cOFvHcCIhw=",
        "apiId": "abc123",
    }


def test_connect_event_without_user_agent() -> None:
    """Without a User-Agent, identity has only the source IP."""
    context = events.connect_event(make_info(user_agent=None), "req-1", NOW)["requestContext"]
    assert context["identity"] == {"sourceIp": "203.0.113.7"}


def test_connect_event_authorizer() -> None:
    """An authorizer context appears in requestContext only when present."""
    plain = events.connect_event(make_info(), "req-1", NOW)["requestContext"]
    authorized = events.connect_event(make_info(authorizer={"principalId": "p"}), "r", NOW)
    assert "authorizer" not in plain
    assert authorized["requestContext"]["authorizer"] == {"principalId": "p"}


# --- message_event -----------------------------------------------------------------


def test_message_event_text_body() -> None:
    """A text frame becomes the body as-is, not base64-encoded, with no headers."""
    event = events.message_event(make_info(), "sendMessage", '{"a": 1}', "req-2", "msg-1", NOW)
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert "headers" not in event
    assert "multiValueHeaders" not in event
    assert "queryStringParameters" not in event


def test_message_event_request_context() -> None:
    """A message event's requestContext has the route, MESSAGE type and messageId."""
    context = events.message_event(make_info(), "sendMessage", "{}", "req-2", "msg-1", NOW)[
        "requestContext"
    ]
    assert context["routeKey"] == "sendMessage"
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    assert context["messageId"] == "msg-1"
    assert context["requestId"] == "req-2"
    assert context["connectedAt"] == CONNECTED_AT
    assert context["requestTimeEpoch"] == NOW
    assert context["identity"] == {"sourceIp": "203.0.113.7"}


def test_message_event_binary_body() -> None:
    """A binary frame is base64-encoded and flagged isBase64Encoded."""
    data = b"\x00\xffbinary\x80"
    event = events.message_event(make_info(), "$default", data, "req-3", "msg-2", NOW)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


# --- disconnect_event --------------------------------------------------------------


def test_disconnect_event_status_and_reason() -> None:
    """A disconnect event carries the close status code and reason."""
    event = events.disconnect_event(make_info(), 1001, "Going away", "req-4", NOW)
    context = event["requestContext"]
    assert context["routeKey"] == "$disconnect"
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 1001
    assert context["disconnectReason"] == "Going away"
    assert context["identity"]["userAgent"] == "pytest-agent/1.0"
    assert event["isBase64Encoded"] is False


def test_disconnect_event_headers() -> None:
    """A disconnect event has AWS's fixed headers, with Host from the upgrade request."""
    event = events.disconnect_event(make_info(), 1000, "", "req-4", NOW)
    assert event["headers"] == {
        "Host": "chat.example.com",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}


def test_disconnect_event_host_defaults_to_domain() -> None:
    """Without a Host header, the disconnect event's Host is the API's domain name."""
    event = events.disconnect_event(make_info(headers=()), 1006, "", "req-4", NOW)
    assert event["headers"]["Host"] == "abc123.execute-api.us-east-1.amazonaws.com"


# --- select_route ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "body", "routes", "expected"),
    [
        pytest.param(
            "$request.body.action", '{"action": "createRoom"}', ROUTES, "createRoom", id="match"
        ),
        pytest.param(
            "$request.body.meta.route",
            '{"meta": {"route": "sendMessage"}}',
            ROUTES,
            "sendMessage",
            id="nested",
        ),
        pytest.param(
            "$request.body.meta.route", '{"meta": "sendMessage"}', ROUTES, "$default", id="not-obj"
        ),
        pytest.param("$request.body.action", "not json", ROUTES, "$default", id="non-json"),
        pytest.param("$request.body.action", "", ROUTES, "$default", id="empty"),
        pytest.param("$request.body.action", '{"op": "x"}', ROUTES, "$default", id="no-key"),
        pytest.param("$request.body.action", '["createRoom"]', ROUTES, "$default", id="array"),
        pytest.param(
            "$request.body.action", '{"action": "nope"}', ROUTES, "$default", id="unknown"
        ),
        pytest.param(
            "$request.body.action", '{"action": "$connect"}', ROUTES, "$default", id="$connect"
        ),
        pytest.param(
            "$request.body.action",
            '{"action": "$disconnect"}',
            ROUTES,
            "$default",
            id="$disconnect",
        ),
        pytest.param("$request.body.action", '{"action": 1}', ROUTES, "$default", id="number"),
        pytest.param("$request.body.action", '{"action": null}', ROUTES, "$default", id="null"),
        pytest.param(
            "$request.body.action", '{"action": ["createRoom"]}', ROUTES, "$default", id="list"
        ),
        pytest.param(
            "$request.body.action", '{"action": {"x": 1}}', ROUTES, "$default", id="object"
        ),
        pytest.param(
            "$request.body.action", b'{"action": "createRoom"}', ROUTES, "$default", id="binary"
        ),
        pytest.param(
            "$request.header.action", '{"action": "createRoom"}', ROUTES, "$default", id="not-body"
        ),
    ],
)
def test_select_route(
    expression: str, body: str | bytes, routes: tuple[str, ...], expected: str
) -> None:
    """The selection expression picks a matching route, else $default."""
    assert events.select_route(expression, body, routes) == expected


@pytest.mark.parametrize(
    "body", ['{"action": "nope"}', "not json", '{"action": "$connect"}', '{"action": 5}']
)
def test_select_route_without_default(body: str) -> None:
    """Without a $default route, an unmatched frame selects no route."""
    routes = ("$connect", "$disconnect", "createRoom")
    assert events.select_route("$request.body.action", body, routes) is None


def test_select_route_without_default_still_matches() -> None:
    """Without a $default route, a matching frame still selects its route."""
    routes = ("$connect", "createRoom")
    assert events.select_route("$request.body.action", '{"action": "createRoom"}', routes) == (
        "createRoom"
    )


# --- contract: Powertools' independent models accept the events ----------------------


def built_events() -> list[Any]:
    """Every kind of event the builders produce, paired with the Powertools model for it."""
    full = make_info(authorizer={"principalId": "p"})
    bare = make_info(user_agent=None, headers=(), query=(), source_ip="::1")
    return [
        pytest.param(
            APIGatewayWebSocketConnectEventModel,
            events.connect_event(full, "req-1", NOW),
            id="connect",
        ),
        pytest.param(
            APIGatewayWebSocketConnectEventModel,
            events.connect_event(bare, "req-1", NOW),
            id="connect-bare-ipv6",
        ),
        pytest.param(
            APIGatewayWebSocketMessageEventModel,
            events.message_event(full, "sendMessage", '{"a": 1}', "req-2", "msg-1", NOW),
            id="message-text",
        ),
        pytest.param(
            APIGatewayWebSocketMessageEventModel,
            events.message_event(bare, "$default", b"\x00\xff", "req-3", "msg-2", NOW),
            id="message-binary",
        ),
        pytest.param(
            APIGatewayWebSocketDisconnectEventModel,
            events.disconnect_event(full, 1000, "Client closed", "req-4", NOW),
            id="disconnect",
        ),
        pytest.param(
            APIGatewayWebSocketDisconnectEventModel,
            events.disconnect_event(bare, 1006, "", "req-5", NOW),
            id="disconnect-bare",
        ),
    ]


@pytest.mark.parametrize(("model", "event"), built_events())
def test_events_validate_against_powertools_models(
    model: type[BaseModel], event: dict[str, Any]
) -> None:
    """Each built event validates against Powertools' model of that event type."""
    parsed: Any = model.model_validate(event)
    context = event["requestContext"]
    assert parsed.request_context.route_key == context["routeKey"]
    assert parsed.request_context.event_type == context["eventType"]
    assert parsed.request_context.connection_id == context["connectionId"]
    assert int(parsed.request_context.connected_at.timestamp() * 1000) == CONNECTED_AT
    assert int(parsed.request_context.request_time_epoch.timestamp() * 1000) == NOW
