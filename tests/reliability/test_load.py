"""Load: 1,000 connections in 10 rooms of 100, every message to every member once.

The connections are real (each its own upgrade, ``$connect`` and record), and so is the
traffic; the memberships are written straight to the table, each holding its member's
connection: joining 1,000 users one by one through the protocol would announce every
arrival to everyone already in the room (about 100,000 member lists of 10 KB), which
measures that broadcast rather than holding 1,000 connections.
"""

from __future__ import annotations

import asyncio
import json
import resource
import secrets
import statistics
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect

from chat import rules
from chat.store import MEMBER_PREFIX
from emulator.harness import Harness
from tests.e2e.chat import store_for
from tests.reliability.conftest import RELIABLE, record
from tests.timing import seconds

CONNECTIONS = 1_000
ROOMS = 10
SENDERS_PER_ROOM = 10  # and so ten waves of sends

pytestmark = RELIABLE


def rss_kb() -> int:
    """This process's resident memory now (the harness, moto and the clients live here)."""
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Member:
    def __init__(self, n: int) -> None:
        self.key = secrets.token_hex(16)
        self.user_id = rules.user_id_for_key(self.key)
        self.name = f"Load {n}"
        self.room = ""  # set when the memberships are written
        self.socket: ClientConnection | None = None
        self.connection_id = ""
        self.got: Counter[str] = Counter()
        self.replies: dict[str, float] = {}
        self.failed = 0


async def open_all(url: str, members: list[Member]) -> None:
    gate = asyncio.Semaphore(25)

    async def open_one(member: Member) -> None:
        async with gate:
            query = urlencode({"name": member.name, "key": member.key})
            member.socket = await connect(
                f"{url}?{query}", open_timeout=seconds(60), max_queue=None, ping_interval=None
            )

    await asyncio.gather(*(open_one(m) for m in members))


async def send(member: Member, message_id: str) -> None:
    assert member.socket is not None
    await member.socket.send(
        json.dumps(
            {
                "action": "sendMessage",
                "roomId": member.room,
                "messageId": message_id,
                "text": f"load {message_id}",
                "ref": message_id,
            }
        )
    )


async def read(member: Member) -> None:
    assert member.socket is not None
    async for frame in member.socket:
        event = json.loads(frame)
        if event.get("type") == "message":
            member.got[event["message"]["messageId"]] += 1
        elif event.get("type") == "messageSent":
            member.replies[event["ref"]] = time.monotonic()
        elif event.get("type") == "error" or "type" not in event:
            member.failed += 1  # retried below, with the same id, as the client does


def seed(harness: Harness, members: list[Member], room_ids: list[str]) -> None:
    """The rooms and their approved memberships, each member's connection attached."""
    store = store_for(harness)
    for member in members:
        (connection,) = store.open_connections(member.user_id)
        member.connection_id = connection.connection_id
    at = "2026-01-01T00:00:00.000Z"
    seated = []
    for n, member in enumerate(members):
        room_id = room_ids[n % ROOMS]
        member.room = room_id
        is_admin = n < ROOMS
        seated.append(
            rules.Member(
                room_id=room_id,
                user_id=member.user_id,
                name=member.name,
                role=rules.Role.ADMIN if is_admin else rules.Role.MEMBER,
                status=rules.Status.APPROVED,
                requested_at=at,
                room_name=f"Load room {n % ROOMS}",
                connections=frozenset({member.connection_id}),
            )
        )
        if is_admin:
            room = rules.Room(room_id, f"Load room {n}", member.user_id, at, version=1)
            store.create_room(room, seated[-1])
    store.seat(seated[ROOMS:])


def unseed(harness: Harness, members: list[Member]) -> None:
    """Take the memberships away again, so that closing 1,000 connections doesn't
    announce each departure to the room (that is the O(n²) this test leaves out)."""
    assert harness.target is not None
    assert harness.outputs is not None
    dynamodb = harness.target.client("dynamodb")
    table = harness.outputs.tables["ROOMS_TABLE"]
    keys = [(m.room, MEMBER_PREFIX + m.user_id) for m in members]
    for start in range(0, len(keys), 25):
        batch = [
            {"DeleteRequest": {"Key": {"roomId": {"S": r}, "sk": {"S": sk}}}}
            for r, sk in keys[start : start + 25]
        ]
        dynamodb.batch_write_item(RequestItems={table: batch})


async def scenario(harness: Harness) -> dict[str, Any]:
    assert harness.gateway is not None
    members = [Member(n) for n in range(CONNECTIONS)]
    room_ids = [rules.new_room_id() for _ in range(ROOMS)]
    before = rss_kb()
    started = time.monotonic()
    await open_all(harness.gateway.url, members)
    opened = time.monotonic() - started
    held = rss_kb()
    readers = [asyncio.create_task(read(m)) for m in members]
    try:
        await asyncio.to_thread(seed, harness, members, room_ids)
        sent: dict[str, tuple[Member, float]] = {}
        by_room: dict[str, list[str]] = {r: [] for r in room_ids}
        deadline = time.monotonic() + seconds(300)
        # Ten waves, one message per room each: 1,000 deliveries in flight at a time.
        retries = 0
        for wave in range(SENDERS_PER_ROOM):
            senders = members[wave * ROOMS : (wave + 1) * ROOMS]
            for member in senders:
                message_id = f"{wave:08x}{secrets.token_hex(4)}"
                sent[message_id] = (member, time.monotonic())
                by_room[member.room].append(message_id)
                await send(member, message_id)
            while time.monotonic() < deadline:
                waiting = [m for m in senders if not m.replies]
                if not waiting:
                    break
                for member in waiting:
                    if member.failed:  # the gateway or the chat said it failed: again
                        member.failed = 0
                        retries += 1
                        await send(member, next(i for i in sent if sent[i][0] is member))
                await asyncio.sleep(0.05)
        while time.monotonic() < deadline:
            if all(set(by_room[m.room]) <= set(m.got) for m in members):
                break
            await asyncio.sleep(0.2)
        lost = sum(len(set(by_room[m.room]) - set(m.got)) for m in members)
        duplicated = sum(n - 1 for m in members for n in m.got.values() if n > 1)
        strays = sum(1 for m in members for mid in m.got if mid not in by_room[m.room])
        latencies = sorted(
            sender.replies[mid] - at for mid, (sender, at) in sent.items() if mid in sender.replies
        )
        return {
            "connections held": CONNECTIONS,
            "rooms": ROOMS,
            "seconds to open the connections": round(opened, 1),
            "memory per connection (KB, both ends and the record, in one process)": round(
                (held - before) / CONNECTIONS, 1
            ),
            "deliveries checked": sum(len(by_room[m.room]) for m in members),
            "deliveries lost": lost,
            "deliveries duplicated": duplicated,
            "deliveries to non-members": strays,
            "send acknowledged p50 (s)": round(statistics.median(latencies), 2),
            "send acknowledged max (s)": round(latencies[-1], 2),
            "acknowledged": len(latencies),
            "sent": len(sent),
            "sends retried after a failure": retries,
        }
    finally:
        await asyncio.to_thread(unseed, harness, members)
        await asyncio.gather(*(m.socket.close() for m in members if m.socket is not None))
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


@pytest.mark.timeout(900)
def test_a_thousand_connections_in_ten_rooms(harness: Harness) -> None:
    """1,000 connections held; 100 messages, 10 per room, each reaches each of its
    room's 100 members exactly once and nobody else; every send acknowledged."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    figures = asyncio.run(scenario(harness))
    for name, value in figures.items():
        record(f"load: {name}", value)
    assert figures["acknowledged"] == figures["sent"]
    assert figures["deliveries lost"] == 0
    # Only a retry after a failure may deliver an id twice (clients drop the repeat).
    assert figures["deliveries duplicated"] == 0 or figures["sends retried after a failure"]
    assert figures["deliveries to non-members"] == 0
