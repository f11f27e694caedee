"""10,000 fuzzed frames from outsiders at a room: every one answered, none with
INTERNAL_ERROR, and nothing stored changes but what the answers say changed."""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from chat import rules
from chat.errors import InvalidPayload
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import create_room, join, say, store_for
from tests.reliability.conftest import RELIABLE, record
from tests.timing import seconds

FRAMES = int(os.environ.get("FUZZ_FRAMES", "10000"))
FUZZERS = 10
FIELDS = ("roomId", "name", "text", "op", "userId", "messageId", "before", "limit", "ref")
JUNK_FRAMES = (
    "",
    " ",
    "null",
    "42",
    '"action"',
    "[]",
    '[{"action": "sendMessage"}]',
    '{"action":',
    '{"action": "sendMessage", "roomId": ',
    "{'action': 'listRooms'}",
    '{"action": "listRooms"}{"action": "listRooms"}',
    "\u3164",
    "\U0001f600" * 100,
)

pytestmark = RELIABLE


class Fuzzer:
    """Makes frames from one seeded generator: valid shapes with hostile values."""

    def __init__(self, seed: int, room_id: str, user_ids: list[str], message_ids: list[str]):
        self.rng = random.Random(seed)
        self.pool: list[Any] = [
            None, True, False, 0, -1, 2**63, 1.5, 1e308, "", " ", "\t\n", "\u3164\u3164",
            "\u2800", "\u0301", "\u202eevil", "\ud800", "x\udfffy", "\U0001f4a5" * 40,
            "<script>alert(1)</script>", "../../etc/passwd", "a" * 3000, "\x00\x1b[31m",
            room_id, room_id.upper(), room_id + " ", "abcdefghjk", *user_ids,
            "u" + "0" * 20, secrets.token_hex(8), *message_ids, "approve", "reject",
            "request", "promote", 50, 51, 0.5, "2025-01-01T00:00:00.000Z#" + "0" * 16,
            {"$ne": None}, [room_id], {"S": room_id},
        ]  # fmt: skip
        self.room_id = room_id

    def value(self) -> Any:
        roll = self.rng.random()
        if roll < 0.05:
            depth = self.rng.randint(2, 300)
            return json.loads("[" * depth + "]" * depth)
        if roll < 0.1:
            return {self.value_key(): self.rng.choice(self.pool)}
        return self.rng.choice(self.pool)

    def value_key(self) -> str:
        return self.rng.choice([*FIELDS, "action", "__proto__", "", "\u3164", "x" * 100])

    def frame(self, ref: str) -> tuple[str, str | None]:
        """A frame, and the ref its answer must carry (None: an answer without one)."""
        roll = self.rng.random()
        if roll < 0.08:
            return self.rng.choice(JUNK_FRAMES), None
        body: dict[str, Any] = {}
        action_roll = self.rng.random()
        if action_roll < 0.85:
            body["action"] = self.rng.choice(rules.ACTIONS)
        elif action_roll < 0.95:
            body["action"] = self.rng.choice(
                ["SENDMESSAGE", "sendmessage", "$default", "$connect", "", "\ud800", "x" * 200]
            )
        else:
            body["action"] = self.value()
        for field in self.rng.sample(FIELDS[:-1], self.rng.randint(0, 4)):
            body[field] = self.value()
        if self.rng.random() < 0.5:
            body["roomId"] = self.room_id  # aim at the victim room most of the time
        body["ref"] = ref if self.rng.random() < 0.9 else self.value()
        return json.dumps(body), _valid_ref(body["ref"])


def _valid_ref(value: Any) -> str | None:
    """The ref a server echoes, or None for a ref it refuses (or none at all)."""
    try:
        return rules.parse_ref({"ref": value})
    except InvalidPayload:
        return None


# The direct reply to each action that succeeded: what answers a frame without a ref.
REPLIES = {
    rules.CREATE_ROOM: "roomCreated",
    rules.JOIN_ROOM: "joinRequested",
    rules.SEND_MESSAGE: "messageSent",
    rules.GET_MEMBERS: "members",
    rules.LIST_ROOMS: "rooms",
    rules.GET_HISTORY: "history",
    rules.LEAVE_ROOM: "left",
    rules.EDIT_MESSAGE: "messageEdited",
    rules.DELETE_MESSAGE: "messageDeleted",
    rules.REMOVE_MEMBER: "memberRemoved",
    rules.TRANSFER_ADMIN: "adminTransferred",
    rules.GET_ROOM: "roomInfo",
    rules.PING: "pong",
    rules.RENAME: "renamed",
}


def answer(client: ChatClient, ref: str | None, frame: str) -> dict[str, Any]:
    """The frame's answer: the event with its ref; when the frame had no valid ref, an
    error or the action's reply without one; or a frame from the gateway itself (which
    never has a type)."""
    try:
        action = json.loads(frame).get("action")
    except (ValueError, AttributeError):
        action = None
    unreffed = {"error", REPLIES.get(action) if isinstance(action, str) else None}
    while True:
        event = json.loads(client.socket.recv(timeout=seconds(20)))
        if "type" not in event or (ref is not None and event.get("ref") == ref):
            return dict(event)
        if ref is None and "ref" not in event and event.get("type") in unreffed:
            return dict(event)
        client.events.append(event)  # a broadcast, e.g. the list after its own createRoom


def snapshot(harness: Harness, room_id: str) -> dict[str, Any]:
    """What of the victim room must not change: its room item, approved members and
    every entry of its conversation."""
    store = store_for(harness)
    room, members = store.load_room(room_id)
    entries, _ = store.messages(room_id, None, 50)
    return {
        "room": (room.name, room.admin_id),
        "approved": sorted(
            (m.user_id, m.role.value, m.name) for m in members if m.status.value == "approved"
        ),
        "entries": [(e.message_id, e.text, e.edited_at, e.deleted_at) for e in entries],
    }


@pytest.mark.timeout(900)
def test_ten_thousand_fuzzed_frames(harness: Harness, connect: Callable[..., ChatClient]) -> None:
    """Every frame is answered; no INTERNAL_ERROR, no gateway failure; the victim room is
    unchanged but for the join requests its answers report."""
    admin, member = connect("Victim admin"), connect("Victim member")
    room_id = create_room(admin, "Fuzz target")
    join(admin, member, room_id)
    message_ids = [say(member, room_id, f"before {i}")["messageId"] for i in range(3)]
    before = snapshot(harness, room_id)
    fuzzers = [connect(f"Fuzzer {i}") for i in range(FUZZERS)]
    targets = [admin.user_id, member.user_id] + [f.user_id for f in fuzzers]
    outcomes: list[Counter[str]] = [Counter() for _ in fuzzers]
    pending: list[bool] = [False] * FUZZERS  # whether each fuzzer has a request waiting
    created: list[int] = [0] * FUZZERS
    failures: list[str] = []

    def run(n: int) -> None:
        fuzz = Fuzzer(n, room_id, targets, message_ids)
        client = fuzzers[n]
        try:
            for i in range(FRAMES // FUZZERS):
                ref = f"z{i}"
                frame, answer_ref = fuzz.frame(ref)
                client.send_raw(frame)
                try:
                    reply = answer(client, answer_ref, frame)
                except TimeoutError:
                    raise AssertionError(f"no answer to {frame[:300]!r}") from None
                kind = reply.get("code") or reply.get("type") or reply.get("message", "?")
                outcomes[n][kind] += 1
                if kind == "joinRequested" and reply["room"]["roomId"] == room_id:
                    pending[n] = True
                elif kind == "left" and reply["roomId"] == room_id:
                    pending[n] = False
                elif kind == "roomCreated":
                    created[n] += 1
        except Exception as exc:  # reported below, with the thread's name
            failures.append(f"fuzzer {n}: {exc!r}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(FUZZERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    total = sum(outcomes, Counter())
    record("fuzzed frames", sum(total.values()))
    record("fuzz outcomes", dict(total.most_common()))
    assert sum(total.values()) == FRAMES
    assert total["INTERNAL_ERROR"] == 0, total
    assert total["Internal server error"] == 0, total
    assert total["Forbidden"] == 0, total

    after = snapshot(harness, room_id)
    assert after == before
    store = store_for(harness)
    _, members = store.load_room(room_id)
    waiting = {m.user_id for m in members if m.status.value == "pending"}
    assert waiting == {f.user_id for f, p in zip(fuzzers, pending, strict=True) if p}
    for fuzzer, made in zip(fuzzers, created, strict=True):
        own = [m for m in store.memberships(fuzzer.user_id) if m.role.value == "admin"]
        assert len(own) == made
    record("fuzz unintended state changes", 0)
