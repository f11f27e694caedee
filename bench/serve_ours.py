"""Our emulator serving the bench's broadcast stack, in a process of its own.

    python -m bench.serve_ours     # prints {"url": "ws://127.0.0.1:PORT/bench"}

A stand-in until ``python -m emulator serve bench/broadcast/template.yaml`` exists: it
describes the same stack as the template with :mod:`scripts.stack` and runs it with
the same harness ``make local`` uses (moto, deploy, gateway, Lambda workers). When the
template command lands, :data:`bench.setups.OURS` calls it instead and this goes.
"""

from __future__ import annotations

import asyncio
import logging

from bench.serving import announce, until_stopped
from bench.workload import BROADCAST_DIR, CONNECTIONS_TABLE, ROOM_INDEX, STAGE
from emulator.harness import Harness, HarnessSettings
from scripts.stack import Function, Index, Stack, Table

STACK = Stack(
    name="bench",
    stage=STAGE,
    source=BROADCAST_DIR,
    website=False,
    tables=(
        Table(
            env_var="CONNECTIONS_TABLE",
            hash_key="connectionId",
            indexes=(Index(ROOM_INDEX, "room"),),
            name=CONNECTIONS_TABLE,
        ),
    ),
    functions=(
        Function("connect", "handler.connect", "$connect", timeout=29),
        Function("disconnect", "handler.disconnect", "$disconnect", timeout=29),
        Function("broadcast", "handler.broadcast", "broadcast", timeout=29),
    ),
)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    harness = Harness(HarnessSettings(stack=STACK))
    try:
        await harness.start()
        assert harness.gateway is not None
        announce({"url": harness.gateway.url})
        await until_stopped()
    finally:
        await harness.stop()


if __name__ == "__main__":
    asyncio.run(main())
