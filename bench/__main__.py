"""``make bench``: how the local stack's costs compare with baselines run beside them.

1. Round trip: ``listRooms`` through the whole stack (gateway, Lambda worker,
   DynamoDB in moto, ``@connections`` over HTTPS) against a plain ``websockets``
   echo server on the same machine — the floor for any WebSocket round trip here.
   Interleaved, so both see the same machine load.
2. Fan-out: ``sendMessage`` until its acknowledgement (sent after every post) in
   rooms of 8 and 24 members, against a room of one. Posts run concurrently, so the
   ratio should grow far slower than the member count.

Bounded: a few hundred round trips, all on 127.0.0.1; it stops by itself.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial

from websockets.asyncio.server import ServerConnection, serve
from websockets.sync.client import connect

from emulator.harness import BackgroundHarness, HarnessSettings
from scripts.stack import chat_stack
from tests.client import ChatClient

ROUND_TRIPS = 150
FAN_OUT_MESSAGES = 20


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class EchoServer:
    """The baseline: a websockets server that sends every frame straight back."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _start(self) -> None:
        async def echo(ws: ServerConnection) -> None:
            async for frame in ws:
                await ws.send(frame)

        self.server = await serve(echo, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def __enter__(self) -> EchoServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


def round_trip(url: str) -> None:
    with EchoServer() as echo, connect(f"ws://127.0.0.1:{echo.port}") as plain:
        client = ChatClient(url, "bench")
        ours: list[float] = []
        base: list[float] = []
        for _ in range(ROUND_TRIPS):  # interleaved: same load for both
            ours.append(timed(lambda: client.request("listRooms", expect="rooms")))
            base.append(timed(lambda: (plain.send('{"action":"listRooms"}'), plain.recv())))
        client.close()
    ratio = median_ms(ours) / median_ms(base)
    print(f"\n1. Round trip, median of {ROUND_TRIPS}")
    print(f"   plain websockets echo (baseline)   {median_ms(base):8.2f} ms   1.0x")
    print(f"   listRooms through the local stack  {median_ms(ours):8.2f} ms  {ratio:5.1f}x")


def fan_out(url: str) -> None:
    print(f"\n2. sendMessage until acknowledged, median of {FAN_OUT_MESSAGES}")
    results: dict[int, float] = {}
    for size in (1, 8, 24):
        admin = ChatClient(url, "admin")
        room = admin.request("createRoom", expect="roomCreated", name=f"bench {size}")
        room_id = room["room"]["roomId"]
        members = []
        for i in range(size - 1):
            member = ChatClient(url, f"m{i}")
            member.request("joinRoom", expect="joinRequested", roomId=room_id)
            admin.request(
                "joinRoom",
                expect="joinDecided",
                roomId=room_id,
                op="approve",
                userId=member.user_id,
            )
            members.append(member)
        send = partial(admin.request, "sendMessage", expect="messageSent", roomId=room_id)
        samples = [timed(partial(send, text="ping")) for _ in range(FAN_OUT_MESSAGES)]
        results[size] = median_ms(samples)
        label = "(baseline)" if size == 1 else ""
        print(
            f"   room of {size:>2} {label:<10}  {results[size]:8.2f} ms  "
            f"{results[size] / results[1]:5.1f}x   ({size} posts)"
        )
        for client in [admin, *members]:
            client.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    settings = HarnessSettings(stack=chat_stack(prefix=f"b{secrets.token_hex(3)}", stage="bench"))
    with BackgroundHarness(settings) as harness:
        assert harness.gateway is not None
        url = harness.gateway.url
        warm = ChatClient(url, "warm-up")
        for _ in range(5):
            warm.request("listRooms", expect="rooms")
        warm.close()
        round_trip(url)
        fan_out(url)


if __name__ == "__main__":
    main()
