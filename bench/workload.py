"""The bench's workload, as every setup deploys it: names shared by all of them."""

from __future__ import annotations

from pathlib import Path

BROADCAST_DIR = Path(__file__).resolve().parent / "broadcast"
HANDLER = BROADCAST_DIR / "handler.py"
TEMPLATE = BROADCAST_DIR / "template.yaml"
SERVERLESS_YML = BROADCAST_DIR / "serverless.yml"
CONNECTIONS_TABLE = "BenchConnections"
ROOM_INDEX = "byRoom"
STAGE = "bench"
MEMORY_MB = 256
TIMEOUT_S = 29
