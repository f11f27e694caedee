"""A read-only view of an API Gateway WebSocket event."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


class WebSocketEvent:
    """The fields of a ``$connect``, message or ``$disconnect`` event the chat uses."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        self._context: Mapping[str, Any] = event.get("requestContext") or {}

    @property
    def connection_id(self) -> str:
        return str(self._context["connectionId"])

    @property
    def route_key(self) -> str:
        return str(self._context.get("routeKey", ""))

    @property
    def request_id(self) -> str:
        return str(self._context.get("requestId", ""))

    @property
    def domain_name(self) -> str:
        return str(self._context["domainName"])

    @property
    def stage(self) -> str:
        return str(self._context["stage"])

    @property
    def management_endpoint(self) -> str:
        """Where the ``@connections`` API of this connection's stage lives."""
        return f"https://{self.domain_name}/{self.stage}"

    @property
    def query(self) -> Mapping[str, str]:
        return self._event.get("queryStringParameters") or {}

    @property
    def body(self) -> str | None:
        body = self._event.get("body")
        if body is None:
            return None
        if self._event.get("isBase64Encoded"):
            return base64.b64decode(body).decode("utf-8", errors="replace")
        return str(body)
