"""Fault injection: workers killed or frozen mid-send, connections dropped, connections
gone in the middle of a fan-out, and a stalled control plane. Whatever happens, what the
gateway accepted is stored once and reaches every member; retries complete, never
duplicate."""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chat.store import MEMBER_PREFIX
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import create_room, join, newest_members, store_for, stored_members
from tests.reliability.conftest import RELIABLE, record, signal_workers
from tests.reliability.freeze import every
from tests.timing import seconds, settles

pytestmark = RELIABLE


def room_of(connect: Callable[..., ChatClient], size: int) -> tuple[list[ChatClient], str]:
    """A room of ``size`` approved members; the admin first."""
    clients = [connect(f"Member {i}") for i in range(size)]
    room_id = create_room(clients[0], "Faults")
    for client in clients[1:]:
        join(clients[0], client, room_id)
    return clients, room_id


def send_round(
    sender: ChatClient, room_id: str, ids: list[str], answers: Counter[str], burst: int = 5
) -> list[str]:
    """Send each id once, ``burst`` requests in flight at a time; the ids not
    acknowledged (their function died, or the answer never came)."""
    unanswered = []
    for start in range(0, len(ids), burst):
        batch = ids[start : start + burst]
        for message_id in batch:
            sender.send(
                "sendMessage", roomId=room_id, messageId=message_id, text=message_id,
                ref=message_id,
            )  # fmt: skip
        acknowledged = collect_acks(sender, set(batch), answers)
        unanswered += [m for m in batch if m not in acknowledged]
    return unanswered


def deliver_all(
    sender: ChatClient, room_id: str, ids: list[str], answers: Counter[str] | None = None
) -> Counter[str]:
    """Send every id, and retry each one not acknowledged with the same id, as the
    reference client does; how the gateway answered."""
    answers = Counter() if answers is None else answers
    waiting = list(ids)
    for _attempt in range(10):
        if not waiting:
            return answers
        waiting = send_round(sender, room_id, waiting, answers)
    raise AssertionError(f"never acknowledged: {waiting}")


def collect_acks(sender: ChatClient, refs: set[str], answers: Counter[str]) -> set[str]:
    """Wait for the answers to ``refs``: acknowledgements, or the gateway's failures."""
    acknowledged: set[str] = set()
    failed = 0
    deadline = time.monotonic() + seconds(30)
    while len(acknowledged) + failed < len(refs) and time.monotonic() < deadline:
        try:
            event = json.loads(sender.socket.recv(timeout=seconds(20)))
        except TimeoutError:
            break
        if event.get("ref") in refs:
            kind = event.get("code") or event["type"]
            answers[kind] += 1
            if event["type"] == "messageSent":
                acknowledged.add(event["ref"])
            else:
                failed += 1
        elif "type" not in event:  # the gateway: the function died under that request
            answers[event["message"]] += 1
            failed += 1
        else:
            sender.events.append(event)
    return acknowledged


def check_delivery(
    harness: Harness, room_id: str, ids: list[str], clients: list[ChatClient]
) -> dict[str, int]:
    """Every id stored once; every client received every id; how many frames repeated
    an id a client already had (a delivery completed again after a worker died)."""
    stored = [m.message_id for m in store_for(harness).messages(room_id, None, 50)[0]]
    assert sorted(m for m in stored if m in ids) == sorted(ids), "lost or stored twice"
    repeats = 0
    for client in clients:
        client.events = client.drain()  # kept: a caller may look at them after
        got = Counter(
            e["message"]["messageId"]
            for e in client.events
            if e.get("type") == "message" and e["message"]["kind"] == "text"
        )
        assert set(ids) <= set(got), f"{client.name} lacks {set(ids) - set(got)}"
        repeats += sum(n - 1 for n in got.values())
    return {"lost": 0, "stored twice": 0, "repeated frames": repeats}


def test_workers_killed_mid_send_lose_and_duplicate_nothing(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """SIGKILL to the send function's workers at random moments while 40 messages go:
    retries with the same ids complete every delivery; nothing is stored twice."""
    clients, room_id = room_of(connect, 4)
    ids = [secrets.token_hex(8) for _ in range(40)]
    answers: Counter[str] = Counter()
    with every((0.1, 0.4), lambda: signal_workers(harness, "send-message", signal.SIGKILL)) as k:
        unacknowledged = send_round(clients[1], room_id, ids, answers)
    killed = sum(k)
    assert killed > 0
    deliver_all(clients[1], room_id, unacknowledged, answers)  # the retries, faults over
    result = check_delivery(harness, room_id, ids, clients)
    record("faults: workers killed", killed)
    record("faults: requests failed by a kill", answers["Internal server error"])
    record("messages checked", len(ids) * len(clients))
    record("messages lost", result["lost"])
    record("messages stored twice", result["stored twice"])
    record("frames repeating a delivered id after a kill", result["repeated frames"])


def test_frozen_workers_delay_but_lose_nothing(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """SIGSTOP to the send function's workers for a moment, again and again, then
    SIGCONT: every message is stored and delivered exactly once."""
    clients, room_id = room_of(connect, 3)
    ids = [secrets.token_hex(8) for _ in range(20)]

    def freeze() -> int:
        frozen = signal_workers(harness, "send-message", signal.SIGSTOP)
        time.sleep(0.5)  # the fault itself: half a second without a scheduler slice
        signal_workers(harness, "send-message", signal.SIGCONT)
        return frozen

    try:
        with every((0.1, 0.3), freeze) as frozen:
            unacknowledged = send_round(clients[2], room_id, ids, Counter())
    finally:
        signal_workers(harness, "send-message", signal.SIGCONT)
    assert unacknowledged == [], "a frozen worker is slow, not dead: every send is answered"
    result = check_delivery(harness, room_id, ids, clients)
    assert result["repeated frames"] == 0
    record("faults: workers frozen", sum(frozen))
    record("messages checked", len(ids) * len(clients))


def test_senders_dropping_their_connection_lose_nothing(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """Three members each send 15 messages and reset their TCP connection as soon as
    the gateway's TCP took them, no close frame: all 45 are stored, and the one who
    stayed receives them all."""
    clients, room_id = room_of(connect, 4)
    ids = {c.name: [secrets.token_hex(8) for _ in range(15)] for c in clients[1:]}
    for client in clients[1:]:
        for message_id in ids[client.name]:
            client.send("sendMessage", roomId=room_id, messageId=message_id, text=message_id)
        client.drop()
    every_id = [m for group in ids.values() for m in group]
    store = store_for(harness)

    def stored() -> set[str]:
        return {m.message_id for m in store.messages(room_id, None, 50)[0]}

    settles(lambda: set(every_id) <= stored(), timeout=30)
    assert set(every_id) <= stored(), f"{len(set(every_id) - stored())} lost"
    check_delivery(harness, room_id, every_id, clients[:1])
    record("faults: connections dropped", 3)
    record("messages checked", len(every_id))


def test_gone_connections_in_the_middle_of_a_fan_out(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """Ghost connection ids (410) among the recipients and members dropping while
    messages go out: the others receive every message once, the sender is never
    failed, and the admin's list ends as stored, the dropped members offline."""
    clients, room_id = room_of(connect, 10)
    assert harness.target is not None
    assert harness.outputs is not None
    dynamodb = harness.target.client("dynamodb")
    ghosts = 0
    for client in clients[1:6]:
        dynamodb.update_item(
            TableName=harness.outputs.tables["ROOMS_TABLE"],
            Key={"roomId": {"S": room_id}, "sk": {"S": MEMBER_PREFIX + client.user_id}},
            UpdateExpression="ADD connections :c",
            ExpressionAttributeValues={":c": {"SS": [f"ghost-{secrets.token_hex(4)}"]}},
        )
        ghosts += 1
    ids = [secrets.token_hex(8) for _ in range(12)]
    dropping = clients[6:]
    sender, stayers = clients[1], clients[:6]
    answers: Counter[str] = Counter()
    for n, message_id in enumerate(ids):
        sender.send("sendMessage", roomId=room_id, messageId=message_id, text="x", ref=message_id)
        if n % 3 == 0 and dropping:
            dropping.pop().drop()  # mid fan-out: no close frame
        assert collect_acks(sender, {message_id}, answers) == {message_id}
    assert set(answers) == {"messageSent"}
    check_delivery(harness, room_id, ids, stayers)
    admin = clients[0]
    settles(
        lambda: newest_members(admin.listen(), room_id) == stored_members(harness, room_id),
        timeout=15,
    )
    newest = newest_members(admin.events, room_id)
    assert newest == stored_members(harness, room_id)
    online = {m["userId"]: m["online"] for m in newest or []}
    assert not any(online[c.user_id] for c in clients[6:])
    record("faults: gone connections in fan-outs", ghosts + len(clients[6:]))
    record("messages checked", len(ids) * len(stayers))


class Gate:
    """Stands in front of moto's server: while closed, every request waits."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.opened = threading.Event()
        self.opened.set()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.opened.wait()
        return self.app(environ, start_response)


@contextmanager
def gated_control_plane(harness: Harness) -> Iterator[Gate]:
    """The harness's moto server (the control plane and DynamoDB) behind a gate."""
    assert harness.control_plane is not None
    server = harness.control_plane._server._server  # moto's werkzeug server
    gate = Gate(server.app)
    server.app = gate
    try:
        yield gate
    finally:
        gate.opened.set()
        server.app = gate.app


def test_a_stalled_control_plane_loses_nothing(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """DynamoDB answers nothing for 3 s while two members send: once it answers again,
    every message is acknowledged, stored once and delivered once to everyone."""
    clients, room_id = room_of(connect, 3)
    ids = {c.name: [secrets.token_hex(8) for _ in range(8)] for c in clients[1:]}
    answers: Counter[str] = Counter()
    with gated_control_plane(harness) as gate:
        gate.opened.clear()
        for client in clients[1:]:
            for message_id in ids[client.name]:
                client.send(
                    "sendMessage", roomId=room_id, messageId=message_id, text="x", ref=message_id
                )
        time.sleep(3)  # the stall being injected, not a wait for a condition
        gate.opened.set()
        for client in clients[1:]:
            assert collect_acks(client, set(ids[client.name]), answers) == set(ids[client.name])
    assert set(answers) == {"messageSent"}
    every_id = [m for group in ids.values() for m in group]
    result = check_delivery(harness, room_id, every_id, clients)
    assert result["repeated frames"] == 0
    record("faults: control plane stalls (3 s)", 1)
    record("messages checked", len(every_id) * len(clients))
