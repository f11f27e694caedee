"""The chat as ``make local`` runs it: memory over a session, and one room of 1,000.

- **Memory.** The whole process tree of ``python -m emulator serve scripts.stack:CHAT``
  (gateway, moto and the Lambda workers): idle after start; at the end of a session of
  eight users (rooms, join requests, approvals, messages, history, members, typing);
  and once the idle workers have been retired. Both the resident sets added up (what
  ``ps`` shows, shared pages once per process) and the proportional set sizes (PSS:
  shared pages split between the processes that share them, so the sum is what the
  tree really holds). Then the gateway's growth per open connection.
- **A room of 1,000.** 999 members join one admin's room; with ``--post-latency 15ms``
  (a post from Lambda to API Gateway takes about that on AWS), the time from the
  admin's ``sendMessage`` to the moment the last of the 1,000 members has it.

Run by ``make bench`` after the comparison (``python -m bench.chat`` alone).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.proctree import rss_bytes, tree

ROOT = Path(__file__).resolve().parent.parent
BIG_ROOM = 1000
POST_LATENCY = "15ms"
WORKER_IDLE_SECONDS = 10  # short, so the retirement is seen within the bench's time
CONNECTIONS_FOR_GROWTH = 500


def pss_bytes(pids: list[int]) -> int:
    """Proportional set sizes added up, from /proc/<pid>/smaps_rollup."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@dataclass
class Snapshot:
    label: str
    processes: int
    rss: int
    pss: int


@dataclass
class ChatReport:
    memory: list[Snapshot] = field(default_factory=list)
    bytes_per_connection: float = 0.0
    big_room_seconds: list[float] = field(default_factory=list)
    big_room_members: int = BIG_ROOM


@contextmanager
def serving(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The chat as make local runs it (without --watch), on free ports."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'handlers'}", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "emulator", "serve", "scripts.stack:CHAT", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--quiet", *options], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    url = ""
    assert process.stdout is not None
    for line in process.stdout:
        if match := re.search(r"WebSocket API\s+(ws://\S+)", line):
            url = match.group(1)
        if "Press Ctrl-C" in line:
            break
    # Keep reading what it prints, or a full pipe would stall it.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    try:
        if not url:
            raise RuntimeError("the chat did not start")
        yield process, url
    finally:
        process.send_signal(2)
        process.wait(timeout=60)


class Client:
    """One chat user on an asyncio WebSocket: requests matched by ``ref``."""

    def __init__(self, socket: ClientConnection, user_id: str) -> None:
        self.socket = socket
        self.user_id = user_id
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, name: str) -> Client:
        query = f"name={name}&key={secrets.token_hex(16)}"
        socket = await connect(f"{url}?{query}", open_timeout=120, max_queue=None)
        await socket.send(json.dumps({"action": "listRooms", "ref": "hello"}))
        while True:
            hello = json.loads(await socket.recv())
            if hello.get("ref") == "hello":
                return cls(socket, str(hello["userId"]))

    async def _read(self) -> None:
        async for frame in self.socket:
            event = json.loads(frame)
            waiter = self._waiting.pop(str(event.get("ref")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
            else:
                self.inbox.put_nowait(event)

    async def request(self, action: str, **payload: Any) -> dict[str, Any]:
        ref = secrets.token_hex(4)
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[ref] = waiter
        await self.socket.send(json.dumps({"action": action, "ref": ref, **payload}))
        return await asyncio.wait_for(waiter, timeout=120)

    async def wait_for(self, kind: str, text: str | None = None) -> float:
        """When an event of ``kind`` (with this text) arrived, on the monotonic clock."""
        while True:
            event = await asyncio.wait_for(self.inbox.get(), timeout=120)
            if event.get("type") == kind and (
                text is None or event.get("message", {}).get("text") == text
            ):
                return time.monotonic()

    async def close(self) -> None:
        await self.socket.close()
        self._reader.cancel()


def snapshot(process: subprocess.Popen[str], label: str) -> Snapshot:
    pids = tree(process.pid)
    return Snapshot(label, len(pids), rss_bytes(pids), pss_bytes(pids))


async def _session_of_eight(url: str) -> None:
    users = [await Client.open(url, f"user{i}") for i in range(8)]
    admin = users[0]
    room = (await admin.request("createRoom", name="Session"))["room"]["roomId"]
    for user in users[1:]:
        await user.request("joinRoom", roomId=room)
        await admin.request("joinRoom", roomId=room, op="approve", userId=user.user_id)
    for round_ in range(5):
        for user in users:
            await user.request("sendMessage", roomId=room, text=f"message {round_}")
    for user in users:
        await user.request("getHistory", roomId=room)
        await user.request("getMembers", roomId=room)
        await user.socket.send(json.dumps({"action": "typing", "roomId": room}))
    await asyncio.gather(*(user.close() for user in users))


def _retired(process: subprocess.Popen[str], deadline: float) -> bool:
    """Wait (polling) until no worker is left: the emulator and its template process."""
    while time.monotonic() < deadline:
        if len(tree(process.pid)) <= 2:
            return True
        time.sleep(0.5)
    return False


def memory(report: ChatReport) -> None:
    with serving("--worker-idle", str(WORKER_IDLE_SECONDS)) as (process, url):
        time.sleep(1)  # let start-up garbage settle before the idle reading
        report.memory.append(snapshot(process, "idle after start"))
        asyncio.run(_session_of_eight(url))
        report.memory.append(snapshot(process, "end of a session of 8 users"))
        if _retired(process, time.monotonic() + 4 * WORKER_IDLE_SECONDS):
            report.memory.append(
                snapshot(process, f"after the session, workers idle {WORKER_IDLE_SECONDS} s")
            )
        before = rss_bytes([process.pid])

        async def hold() -> None:
            sockets = []
            for i in range(CONNECTIONS_FOR_GROWTH):
                sockets.append(
                    await connect(f"{url}?name=c{i}&key={secrets.token_hex(16)}", max_queue=None)
                )
            report.bytes_per_connection = (
                rss_bytes([process.pid]) - before
            ) / CONNECTIONS_FOR_GROWTH
            await asyncio.gather(*(s.close() for s in sockets))

        asyncio.run(hold())


async def _big_room(url: str, report: ChatReport) -> None:
    admin = await Client.open(url, "admin")
    room = (await admin.request("createRoom", name="Everyone"))["room"]["roomId"]
    gate = asyncio.Semaphore(16)

    async def member(i: int) -> Client:
        async with gate:
            client = await Client.open(url, f"m{i}")
            await client.request("joinRoom", roomId=room)
            await admin.request("joinRoom", roomId=room, op="approve", userId=client.user_id)
            return client

    members = await asyncio.gather(*(member(i) for i in range(BIG_ROOM - 1)))
    everyone = [admin, *members]
    for client in everyone:  # the join traffic is not what is measured
        while not client.inbox.empty():
            client.inbox.get_nowait()
    for attempt in range(3):
        text = f"to everyone {attempt}"
        started = time.monotonic()
        arrivals = asyncio.gather(*(c.wait_for("message", text) for c in everyone))
        await admin.socket.send(json.dumps({"action": "sendMessage", "roomId": room, "text": text}))
        report.big_room_seconds.append(max(await arrivals) - started)
    await asyncio.gather(*(c.close() for c in everyone))


def big_room(report: ChatReport) -> None:
    with serving("--post-latency", POST_LATENCY) as (_, url):
        asyncio.run(_big_room(url, report))


def run(with_big_room: bool = False) -> ChatReport:
    report = ChatReport()
    print("Chat memory over a session of eight users...", flush=True)
    memory(report)
    if with_big_room:
        print(f"A room of {BIG_ROOM} with {POST_LATENCY} per post...", flush=True)
        big_room(report)
    return report


def section(report: ChatReport) -> str:
    """The report's part of docs/performance.md."""
    mb = 1024 * 1024
    rows = "\n".join(
        f"| {s.label} | {s.processes} | {s.rss / mb:.0f} MB | {s.pss / mb:.0f} MB |"
        for s in report.memory
    )
    times = report.big_room_seconds
    big = (
        f"""A room of {report.big_room_members} online members, with `--post-latency {POST_LATENCY}`
on every `@connections` call: from the admin's `sendMessage` to the last member's
receipt, {", ".join(f"{t:.2f} s" for t in times)} (median {statistics.median(times):.2f} s;
target: under 2 s, inside the 29 s integration timeout)."""
        if times
        else "A room of 1,000: not measured in this run (`python -m bench.chat --big-room`)."
    )
    return f"""## The chat as `make local` runs it

Memory of the whole process tree (`python -m emulator serve scripts.stack:CHAT`: the
gateway, moto, the workers' template process and the Lambda workers). RSS adds each
process's resident set (shared pages once per process, as `ps` and the comparison above
count them); PSS splits shared pages between the processes that share them, so its sum is
what the tree holds. Workers are forked from a template process that has boto3 loaded,
so most of each worker's resident set is shared.

| moment | processes | RSS | PSS |
|---|---|---|---|
{rows}

Gateway growth per open WebSocket connection ({CONNECTIONS_FOR_GROWTH} idle connections):
**{report.bytes_per_connection / 1024:.0f} KB** (target: under 100 KB).

{big}
"""


if __name__ == "__main__":
    print(section(run(with_big_room="--big-room" in sys.argv)))
