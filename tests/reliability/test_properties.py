"""Property-based tests of the protocol: random sequences of actions by random users.

Hypothesis drives real clients against the stack; a model says what each action must
answer (the authorization matrix included), and after every step three invariants are
checked:

1. nobody outside a room's approved members receives its events;
2. every stored message is delivered exactly once to every approved member online;
3. every approved member's newest ``members`` list equals the stored list once things
   settle (the admin's included);
4. each sender's messages reach every member, and stand in history, in the order sent.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chat import rules
from chat.errors import ChatError
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import newest_members, store_for, stored_members
from tests.reliability.conftest import RELIABLE, record
from tests.timing import seconds

USERS = 3
ROOM_EVENTS = {"message", "messageUpdated", "members", "typing"}
TEXT = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\x85"),
    min_size=1,
    max_size=40,
)
SETTINGS = settings(
    max_examples=20,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,  # the same sequences on every run: CI is repeatable
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

pytestmark = RELIABLE


@dataclass
class RoomModel:
    admin: int
    status: dict[int, str] = field(default_factory=dict)  # user → pending/approved/rejected

    def approved(self) -> set[int]:
        return {u for u, s in self.status.items() if s == "approved"}


@dataclass
class Tally:
    steps: int = 0
    messages: int = 0
    deliveries: int = 0
    lists_checked: int = 0


TALLY = Tally()


class ChatMachine(RuleBasedStateMachine):
    """Users 0..USERS-1, each one connection; rooms as they are created."""

    rooms = Bundle("rooms")

    def __init__(self, harness: Harness, connect: Callable[..., ChatClient]) -> None:
        super().__init__()
        self.harness = harness
        self.clients = [connect(f"User {i}") for i in range(USERS)]
        self.model: dict[str, RoomModel] = {}
        self.history: list[list[dict[str, Any]]] = [[] for _ in range(USERS)]
        self.step: list[list[dict[str, Any]]] = [[] for _ in range(USERS)]
        self.sent: list[tuple[str, str]] = []  # (room, messageId) sent in this step
        self.sent_by: dict[tuple[str, int], list[str]] = {}  # (room, user) → ids, in order

    # --- the actions ------------------------------------------------------------

    def call(self, user: int, action: str, **payload: Any) -> dict[str, Any]:
        """The answer to one request: its reply or its error."""
        ref = secrets.token_hex(4)
        self.clients[user].send(action, ref=ref, **payload)
        return self.clients[user].wait_for_ref(ref)

    def expect(self, reply: dict[str, Any], wanted: str) -> None:
        got = reply.get("code") if reply.get("type") == "error" else reply.get("type")
        assert got == wanted, (wanted, reply)

    @rule(target=rooms, user=st.integers(0, USERS - 1), name=TEXT)
    def create(self, user: int, name: str) -> str:
        reply = self.call(user, "createRoom", name=name)
        try:
            rules.parse_create_room({"name": name})
        except ChatError as error:
            self.expect(reply, error.code)
            return ""
        self.expect(reply, "roomCreated")
        room_id = str(reply["room"]["roomId"])
        self.model[room_id] = RoomModel(admin=user, status={user: "approved"})
        return room_id

    @rule(room=rooms, user=st.integers(0, USERS - 1))
    def ask(self, room: str, user: int) -> None:
        if not room:
            return
        state = self.model[room].status.get(user)
        reply = self.call(user, "joinRoom", roomId=room)
        if state == "approved":
            self.expect(reply, "ALREADY_MEMBER")
        elif state == "pending":
            self.expect(reply, "ALREADY_PENDING")
        else:
            self.expect(reply, "joinRequested")
            self.model[room].status[user] = "pending"

    @rule(room=rooms, caller=st.integers(0, USERS - 1), user=st.integers(0, USERS - 1),
          approve=st.booleans())  # fmt: skip
    def decide(self, room: str, caller: int, user: int, approve: bool) -> None:
        if not room:
            return
        model = self.model[room]
        op = "approve" if approve else "reject"
        target = self.clients[user].user_id
        reply = self.call(caller, "joinRoom", roomId=room, op=op, userId=target)
        if caller != model.admin:
            self.expect(reply, "NOT_ADMIN")
        elif model.status.get(user) != "pending":
            self.expect(reply, "NO_PENDING_REQUEST")
        else:
            self.expect(reply, "joinDecided")
            model.status[user] = "approved" if approve else "rejected"

    @rule(room=rooms, user=st.integers(0, USERS - 1), text=TEXT)
    def send(self, room: str, user: int, text: str) -> None:
        if not room:
            return
        message_id = secrets.token_hex(8)
        reply = self.call(user, "sendMessage", roomId=room, messageId=message_id, text=text)
        try:
            rules.parse_send_message({"roomId": room, "text": text})
        except ChatError as error:
            self.expect(reply, error.code)
            return
        if self.model[room].status.get(user) != "approved":
            self.expect(reply, "NOT_MEMBER")
            return
        self.expect(reply, "messageSent")
        self.sent.append((room, message_id))
        self.sent_by.setdefault((room, user), []).append(message_id)

    @rule(room=rooms, data=st.data(), approve=st.booleans())
    def admin_decides_a_request(self, room: str, data: st.DataObject, approve: bool) -> None:
        """The likely case, more often than chance gives it: the admin on a real request."""
        if not room:
            return
        model = self.model[room]
        waiting = sorted(u for u, s in model.status.items() if s == "pending")
        if waiting:
            self.decide(room, model.admin, data.draw(st.sampled_from(waiting)), approve)

    @rule(room=rooms, data=st.data(), text=TEXT)
    def member_sends(self, room: str, data: st.DataObject, text: str) -> None:
        """A member's message, more often than chance gives it."""
        if room:
            self.send(room, data.draw(st.sampled_from(sorted(self.model[room].approved()))), text)

    @rule(room=rooms, user=st.integers(0, USERS - 1))
    def leave(self, room: str, user: int) -> None:
        if not room:
            return
        model = self.model[room]
        reply = self.call(user, "leaveRoom", roomId=room)
        if user == model.admin:
            self.expect(reply, "ADMIN_CANNOT_LEAVE")
        elif user not in model.status:
            self.expect(reply, "NOT_MEMBER")
        else:
            self.expect(reply, "left")
            del model.status[user]

    @rule(room=rooms, caller=st.integers(0, USERS - 1), user=st.integers(0, USERS - 1))
    def remove(self, room: str, caller: int, user: int) -> None:
        if not room:
            return
        model = self.model[room]
        reply = self.call(caller, "removeMember", roomId=room, userId=self.clients[user].user_id)
        if caller != model.admin:
            self.expect(reply, "NOT_ADMIN")
        elif model.status.get(user) != "approved":
            self.expect(reply, "NO_SUCH_MEMBER")
        elif user == model.admin:
            self.expect(reply, "ADMIN_CANNOT_LEAVE")
        else:
            self.expect(reply, "memberRemoved")
            del model.status[user]

    @rule(room=rooms, caller=st.integers(0, USERS - 1), user=st.integers(0, USERS - 1))
    def transfer(self, room: str, caller: int, user: int) -> None:
        if not room:
            return
        model = self.model[room]
        reply = self.call(caller, "transferAdmin", roomId=room, userId=self.clients[user].user_id)
        if caller != model.admin:
            self.expect(reply, "NOT_ADMIN")
        elif model.status.get(user) != "approved":
            self.expect(reply, "NO_SUCH_MEMBER")
        elif user == caller:
            self.expect(reply, "INVALID_PAYLOAD")
        else:
            self.expect(reply, "adminTransferred")
            model.admin = user

    # --- after every step ----------------------------------------------------------

    def teardown(self) -> None:
        for client in self.clients:
            client.close()

    def lists_agree(self) -> bool:
        for room, model in self.model.items():
            stored = stored_members(self.harness, room)
            for user in model.approved():
                events = self.history[user] + self.clients[user].events
                if newest_members(events, room) != stored:
                    return False
        return True

    def _settle(self) -> None:
        """Wait until every approved member holds the stored list (the last thing each
        action posts), then collect every client's events of this step."""
        deadline = time.monotonic() + seconds(15)
        while True:
            for client in self.clients:
                client.listen()
            if self.lists_agree():
                break
            assert time.monotonic() < deadline, "invariant 3: a member's newest list is stale"
        for user, events in enumerate(drain_together(self.clients)):
            self.step[user] = events
            self.history[user] += events

    @invariant()
    def after_each_step(self) -> None:
        self._settle()
        TALLY.steps += 1
        TALLY.lists_checked += sum(len(m.approved()) for m in self.model.values())
        # 1. Room events reach approved members only.
        for user, events in enumerate(self.step):
            for event in events:
                if event.get("type") not in ROOM_EVENTS:
                    continue
                room = event.get("roomId") or event.get("message", {}).get("roomId")
                assert self.model[room].status.get(user) == "approved", (user, event)
        # 2. Each message sent reached every approved member once, nobody else.
        for room, message_id in self.sent:
            for user, events in enumerate(self.step):
                copies = sum(
                    1
                    for e in events
                    if e.get("type") == "message" and e["message"]["messageId"] == message_id
                )
                wanted = 1 if user in self.model[room].approved() else 0
                assert copies == wanted, (room, message_id, user, copies)
                TALLY.deliveries += copies
            TALLY.messages += 1
        rooms_sent_to = {room for room, _ in self.sent}
        self.sent = []
        # 4. Each sender's messages in the order sent, live and in history.
        for user, events in enumerate(self.history):
            live = [e["message"]["messageId"] for e in events if e.get("type") == "message"]
            for ids in self.sent_by.values():
                assert in_send_order(live, ids), (user, ids)
        for room in rooms_sent_to:  # history changes only where a message was stored
            stored = [m.message_id for m in store_for(self.harness).messages(room, None, 50)[0]]
            for (sent_in, _), ids in self.sent_by.items():
                if sent_in == room:
                    assert in_send_order(stored, ids), (room, ids)


def drain_together(clients: list[ChatClient]) -> list[list[dict[str, Any]]]:
    """Each client's events so far, after a round trip on each proves nothing else is in
    flight to it: ``ChatClient.drain`` for all at once. The round trips go out together
    (each connection's answer still comes after whatever was posted to it before), and
    are pings, which read and change nothing of the rooms: a ``listRooms`` would attach
    the connection to any membership that lacks it, and so could mend what is checked."""
    refs = [secrets.token_hex(4) for _ in clients]
    for client, ref in zip(clients, refs, strict=True):
        client.send("ping", ref=ref)
    drained = []
    for client, ref in zip(clients, refs, strict=True):
        reply = client.wait_for_ref(ref)
        assert reply.get("type") == "pong", reply
        drained.append(client.events)
        client.events = []
    return drained


def in_send_order(seen: list[str], sent: list[str]) -> bool:
    """Whether the ids of ``sent`` that appear in ``seen`` appear in the order sent (a
    member who joined later has only the later ones)."""
    position = {message_id: n for n, message_id in enumerate(sent)}
    places = [position[m] for m in seen if m in position]
    return places == sorted(set(places)) and len(places) == len(set(places))


@pytest.mark.timeout(900)
def test_random_sequences_keep_the_four_invariants(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """Random actions by three users over random rooms: every answer as the model says,
    and the four invariants after every step."""
    run_state_machine_as_test(lambda: ChatMachine(harness, connect), settings=SETTINGS)
    record("property steps", TALLY.steps)
    record("property messages checked", TALLY.messages)
    record("property deliveries checked", TALLY.deliveries)
    record("property member lists checked", TALLY.lists_checked)
    assert TALLY.messages > 0
