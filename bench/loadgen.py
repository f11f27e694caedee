"""The load generator: its own process, so it never shares a CPU budget with a server.

    python -m bench.loadgen ws://127.0.0.1:PORT/stage --rooms 10,100,1000 --senders 8

It opens every room's receivers (``?room=r<N>``) and ``--senders`` sender sockets in a
room of their own, warms each room up, prints ``{"ready": ...}`` and then answers one
JSON line per command read on stdin:

    {"room": 100, "inflight": 8, "duration": 2.0, "min_messages": 3, "timeout": 20}

``inflight`` senders each keep one ``broadcast`` in flight until ``duration`` has
passed; a message is delivered when its last receiver has it, and its latency runs
from the send to that moment. A message not delivered within ``timeout`` is counted
lost, and its sender stops. ``{"quit": true}`` closes everything.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

PAD = "x" * 120  # a chat-sized message
CONNECT_PARALLEL = 8
WARM_UP_MESSAGES = 2


@dataclass
class _Pending:
    remaining: int
    done: asyncio.Event = field(default_factory=asyncio.Event)
    done_at: float = 0.0


def _with_query(url: str, room: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}room={room}"


class LoadGenerator:
    def __init__(self, url: str, rooms: list[int], senders: int) -> None:
        self.url = url
        self.rooms = rooms
        self.sender_count = senders
        self.receivers: dict[int, list[ClientConnection]] = {}
        self.senders: list[ClientConnection] = []
        self._pending: dict[int, _Pending] = {}
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    async def _open(self, room: str, gate: asyncio.Semaphore, listen: bool) -> ClientConnection:
        async with gate:
            socket = await connect(
                _with_query(self.url, room), open_timeout=60, ping_interval=None, max_queue=None
            )
        if listen:
            task = asyncio.create_task(self._receive(socket))
            self._tasks.add(task)
        return socket

    async def _receive(self, socket: ClientConnection) -> None:
        async for frame in socket:
            text = frame if isinstance(frame, str) else frame.decode()
            pending = self._pending.get(int(text.partition(" ")[0]))
            if pending is not None:
                pending.remaining -= 1
                if pending.remaining == 0:
                    pending.done_at = time.perf_counter()
                    pending.done.set()

    async def start(self) -> dict[str, Any]:
        started = time.perf_counter()
        gate = asyncio.Semaphore(CONNECT_PARALLEL)
        for size in self.rooms:
            opening = [self._open(f"r{size}", gate, listen=True) for _ in range(size)]
            self.receivers[size] = list(await asyncio.gather(*opening))
        opening = [self._open("senders", gate, listen=False) for _ in range(self.sender_count)]
        self.senders = list(await asyncio.gather(*opening))
        connected = time.perf_counter() - started
        for size in self.rooms:  # starts what starts on first use (a worker, a client)
            await self.run(size, inflight=1, duration=0, min_messages=WARM_UP_MESSAGES, timeout=60)
        smallest = min(self.rooms)  # and enough of them for every sender at once
        await self.run(smallest, self.sender_count, 0, self.sender_count, timeout=60)
        return {"ready": True, "connect_s": connected, "connections": self.connections}

    @property
    def connections(self) -> int:
        return sum(map(len, self.receivers.values())) + len(self.senders)

    async def run(
        self, room: int, inflight: int, duration: float, min_messages: int, timeout: float
    ) -> dict[str, Any]:
        receivers = len(self.receivers[room])
        latencies: list[float] = []
        delivered = 0
        lost = 0
        issued = 0
        last_done = started = time.perf_counter()
        stop_at = started + duration

        async def keep_sending(socket: ClientConnection) -> None:
            nonlocal delivered, lost, issued, last_done
            while time.perf_counter() < stop_at or issued < min_messages:
                issued += 1
                seq = next(self._seq)
                pending = self._pending[seq] = _Pending(receivers)
                body = {"action": "broadcast", "room": f"r{room}", "data": f"{seq} {PAD}"}
                sent_at = time.perf_counter()
                await socket.send(json.dumps(body))
                try:
                    await asyncio.wait_for(pending.done.wait(), timeout)
                except TimeoutError:
                    lost += 1
                    delivered += receivers - pending.remaining
                    return
                finally:
                    del self._pending[seq]
                latencies.append(pending.done_at - sent_at)
                delivered += receivers
                last_done = max(last_done, pending.done_at)

        await asyncio.gather(*(keep_sending(s) for s in self.senders[:inflight]))
        return {
            "room": room,
            "inflight": inflight,
            "messages": len(latencies),
            "lost": lost,
            "deliveries": delivered,
            "elapsed": max(last_done - started, 1e-9),
            "latencies": latencies,
        }

    async def close(self) -> None:
        sockets = [s for room in self.receivers.values() for s in room] + self.senders
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve(url: str, rooms: list[int], senders: int) -> None:
    generator = LoadGenerator(url, rooms, senders)
    try:
        _say(await generator.start())
    except Exception as exc:
        _say({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            if command.get("quit"):
                break
            _say(await generator.run(**command))
    finally:
        await generator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--rooms", default="10,100,1000")
    parser.add_argument("--senders", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(serve(args.url, [int(n) for n in args.rooms.split(",")], args.senders))


if __name__ == "__main__":
    main()
