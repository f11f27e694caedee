"""All calls to the ``@connections`` management API: posting, and probing.

Posts to many connections run concurrently; a connection that is gone (410) is
reported back so the caller can clean it up, and never stops delivery to the rest.
Any other failure (the data too large, throttling that outlasted the retries) is
reported too, so that a reply that could not be posted never fails silently.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

_MAX_PARALLEL_POSTS = 16
_executor = ThreadPoolExecutor(max_workers=_MAX_PARALLEL_POSTS, thread_name_prefix="post")
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    max_pool_connections=_MAX_PARALLEL_POSTS,  # one kept-alive connection per poster
)
GONE = "GoneException"
TOO_LARGE = "PayloadTooLargeException"


def _client_for(endpoint_url: str) -> Any:
    """One client per endpoint per container: clients are costly to build."""
    with _clients_lock:
        client = _clients.get(endpoint_url)
        if client is None:
            client = boto3.client(
                "apigatewaymanagementapi", endpoint_url=endpoint_url, config=_CLIENT_CONFIG
            )
            _clients[endpoint_url] = client
        return client


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Delivery:
    """What became of one post to several connections."""

    gone: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # connection id → error code


class Fanout:
    """Sends JSON events to connections of one API stage."""

    def __init__(self, endpoint_url: str, client: Any = None) -> None:
        self._client = client or _client_for(endpoint_url)

    def send(self, connection_ids: Iterable[str], payload: Mapping[str, Any]) -> Delivery:
        """Post ``payload`` to each connection at once."""
        data = encode(payload)
        ids = sorted(set(connection_ids))
        outcomes = (
            [self._post(ids[0], data)]
            if len(ids) == 1
            else list(_executor.map(lambda cid: self._post(cid, data), ids))
        )
        delivery = Delivery()
        for connection_id, outcome in zip(ids, outcomes, strict=True):
            if outcome == GONE:
                delivery.gone.add(connection_id)
            elif outcome is not None:
                delivery.failed[connection_id] = outcome
        return delivery

    def gone(self, connection_ids: Iterable[str]) -> set[str]:
        """Which of these connections API Gateway says are gone (``GET @connections``)."""
        ids = sorted(set(connection_ids))
        alive = list(_executor.map(self._probe, ids))
        return {cid for cid, is_alive in zip(ids, alive, strict=True) if not is_alive}

    def _post(self, connection_id: str, data: bytes) -> str | None:
        """Post once; None when accepted, else the error's code."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "ClientError")
            if code != GONE:
                # Not gone, but not delivered (too large, throttled): the others still get it.
                log.warning("post to connection %s failed: %s", connection_id, code)
            return code
        return None

    def _probe(self, connection_id: str) -> bool:
        """True unless the connection is gone; any other failure counts as alive."""
        try:
            self._client.get_connection(ConnectionId=connection_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == GONE:
                return False
            log.warning("probe of connection %s failed: %s", connection_id, code)
        return True
