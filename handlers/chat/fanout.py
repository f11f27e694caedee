"""All posting to connections through the ``@connections`` management API.

Posts to many connections run concurrently; a connection that is gone (410) is
reported back so the caller can clean it up, and never stops delivery to the rest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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


class Fanout:
    """Sends JSON events to connections of one API stage."""

    def __init__(self, endpoint_url: str, client: Any = None) -> None:
        self._client = client or _client_for(endpoint_url)

    def send(self, connection_ids: Iterable[str], payload: Mapping[str, Any]) -> set[str]:
        """Post ``payload`` to each connection at once; returns the ids that are gone."""
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        ids = sorted(set(connection_ids))
        if len(ids) == 1:
            return {ids[0]} if self._post(ids[0], data) else set()
        gone = _executor.map(lambda cid: self._post(cid, data), ids)
        return {cid for cid, is_gone in zip(ids, gone, strict=True) if is_gone}

    def _post(self, connection_id: str, data: bytes) -> bool:
        """Post once; True when the connection is gone."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return True
        except ClientError:
            # Not gone, but not delivered (throttled, too large): the others still get it.
            log.exception("post to connection %s failed", connection_id)
        return False
