"""The broadcast-to-1 bound's DynamoDB: our emulator's control plane, alone in a process.

    python -m bench.bound_dynamodb ROOM   # prints {"url": ...} once the table is ready

It is moto as ours serves it to the handlers it runs (:class:`emulator.controlplane.ControlPlane`:
its DynamoDB lock, its Query answers written out as stored), without the gateway. Of the
DynamoDBs the bench has it answers the handler's Query fastest (2.0 against 2.5 ms p50
for plain moto's threaded server, which serverless-offline's handler gets from
bench/serve_offline.py; measured side by side at load 1.3, before the control plane kept
its connections open), so that the bound is a bound for every setup. Its table is the
bench's, holding one connection, alone in ``ROOM``.
"""

from __future__ import annotations

import asyncio
import sys

from bench.serving import announce, until_stopped
from bench.workload import CONNECTIONS_TABLE, create_connections_table
from emulator.controlplane import ControlPlane
from emulator.targets import Target

REGION = "us-east-1"


async def serve(room: str) -> None:
    plane = ControlPlane()
    plane.start()
    try:
        dynamodb = Target.local(plane.url, REGION).client("dynamodb")
        create_connections_table(dynamodb)
        item = {"connectionId": {"S": "alone"}, "room": {"S": room}}
        dynamodb.put_item(TableName=CONNECTIONS_TABLE, Item=item)
        announce({"url": plane.url})
        await until_stopped()
    finally:
        plane.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(serve(sys.argv[1]))
