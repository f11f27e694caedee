"""The bench's workload, as every setup deploys it: the names all of them share, the
table for the peers that take no template, and the messages of issue 23's round trips.

Only the standard library here: :mod:`bench.bound_client` imports it on the handler's
own interpreter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BROADCAST_DIR = Path(__file__).resolve().parent / "broadcast"
HANDLER = BROADCAST_DIR / "handler.py"
TEMPLATE = BROADCAST_DIR / "template.yaml"
SERVERLESS_YML = BROADCAST_DIR / "serverless.yml"
# The same workload in Node.js (handler.mjs, the AWS SDK for JavaScript v3).
NODE_DIR = BROADCAST_DIR.with_name("broadcast-node")
NODE_HANDLER = NODE_DIR / "handler.mjs"
NODE_TEMPLATE = NODE_DIR / "template.yaml"
NODE_SERVERLESS_YML = NODE_DIR / "serverless.yml"
CONNECTIONS_TABLE = "BenchConnections"
ROOM_INDEX = "byRoom"
STAGE = "bench"
MEMORY_MB = 256
TIMEOUT_S = 29


def create_connections_table(dynamodb: Any) -> None:
    """The handler's table, on a peer that has no template to deploy it from."""
    dynamodb.create_table(
        TableName=CONNECTIONS_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "room", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ROOM_INDEX,
                "KeySchema": [{"AttributeName": "room", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def probe_message(action: str, n: int, room: str) -> dict[str, str]:
    """The ``n``-th message of a round trip through the handler's ``action``: its ``data``
    is what comes back (``broadcast`` posts it to ``room``, where the sender is alone)."""
    message = {"action": action, "data": f"{n} {action}"}
    if action == "broadcast":
        message["room"] = room
    return message
