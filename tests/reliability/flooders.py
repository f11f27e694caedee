"""The floods of the flood test, in a process of their own.

``python -m tests.reliability.flooders URL --seconds 20``: one connection and one user's
10 tabs write ``sendMessage`` as fast as they can, and 30 identities each at its own
rate (10 a second), each in a room of its own, after each has sent one message (all at
once, so that the function's workers are warm). It prints ``{"ready": true}`` once every
connection is open and every room made, waits for a line on its input to begin, floods
for the seconds asked, then prints what it wrote and the answers it got (by type or
error code) as one JSON line, and drops its connections.

Apart from the test's process, because a client that writes as fast as it can keeps its
own event loop busy: in one loop with the bystander, the bystander's wait measured the
test's own starvation (41-51 s), not the emulator's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import sys
from collections import Counter
from typing import Any

from tests.reliability.peers import Peer, message, room_of

TABS = 10  # the chat's most connections for one user
IDENTITIES = 30
IDENTITY_RATE = 10  # frames a second: the chat's 100 per 10 s for a connection
SEND_BUFFER = 64 * 1024  # bytes a flooder's kernel holds of what it wrote


async def flood(peer: Peer, room_id: str, written: list[int]) -> None:
    """As fast as the connection takes them, until cancelled; counts them in ``written``."""
    assert peer.socket is not None
    raw = peer.socket.transport.get_extra_info("socket")
    # A real flooder's CPU isn't the emulator's; here they share two cores. Left to
    # Linux, the send buffer grows to net.ipv4.tcp_wmem's maximum (4 MB), and the
    # flooders spend the first seconds, and a core, writing tens of thousands of
    # frames that the emulator reads minutes later, if ever.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    while True:
        await peer.send("sendMessage", f"f{written[0]}", **message(room_id))
        written[0] += 1
        # send() returns at once while the socket's buffers take more: without this, one
        # flooder holds the loop until the kernel's buffers are full, the others wait.
        await asyncio.sleep(0)


async def steady(peer: Peer, room_id: str, until: float) -> int:
    """At the connection's own rate, until ``until``; how many were sent."""
    sent = 0
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        await peer.send("sendMessage", f"s{sent}", **message(room_id))
        sent += 1
        await asyncio.sleep(1 / IDENTITY_RATE)
    return sent


def say(figures: dict[str, Any]) -> None:
    print(json.dumps(figures), flush=True)


async def run(url: str, duration: float) -> None:
    flooder = Peer("Flooder")
    tab_key = secrets.token_hex(16)
    tabs = [Peer("Tabs", tab_key) for _ in range(TABS)]
    identities = [Peer(f"Identity {n}") for n in range(IDENTITIES)]
    peers = [flooder, *tabs, *identities]
    floods: list[asyncio.Task[None]] = []
    try:
        for peer in peers:
            await peer.open(url)
        flood_room = await room_of(flooder, "Flood")
        tabs_room = await room_of(tabs[0], "Tabs")
        own_rooms = [await room_of(peer, f"Own {n}") for n, peer in enumerate(identities)]
        # Everyone has said something before the floods, all at once: the function's
        # workers are warm (a worker's first start under this load takes seconds).
        rooms = [flood_room] + [tabs_room] * TABS + own_rooms
        hellos = zip(peers, rooms, strict=True)
        await asyncio.gather(
            *(peer.request("sendMessage", **message(room)) for peer, room in hellos)
        )
        for peer in peers:
            peer.answers.clear()
        say({"ready": True})
        await asyncio.to_thread(sys.stdin.readline)
        loop = asyncio.get_running_loop()
        until = loop.time() + duration
        written = [0]
        floods = [asyncio.create_task(flood(flooder, flood_room, written))]
        floods += [asyncio.create_task(flood(tab, tabs_room, written)) for tab in tabs]
        steadies = [
            asyncio.create_task(steady(peer, room, until))
            for peer, room in zip(identities, own_rooms, strict=True)
        ]
        steady_sent = sum(await asyncio.gather(*steadies))
        for task in floods:
            task.cancel()
        answers = sum((peer.answers for peer in peers), Counter[str]())
        say(
            {
                "flood frames written": written[0],
                "identity frames written": steady_sent,
                "answered": sum(answers.values()),
                "answers": dict(answers.most_common()),
            }
        )
    finally:
        for task in floods:
            task.cancel()
        await asyncio.gather(*floods, return_exceptions=True)
        await asyncio.gather(*(peer.abort() for peer in peers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the chat's WebSocket URL (ws://…/stage)")
    parser.add_argument("--seconds", type=float, default=20, help="how long to flood")
    arguments = parser.parse_args()
    if arguments.seconds <= 0:
        parser.error("--seconds must be more than 0")
    asyncio.run(run(arguments.url, arguments.seconds))


if __name__ == "__main__":
    main()
