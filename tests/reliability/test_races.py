"""Races between a check and its write: a function frozen after it checked and before
it wrote (its DynamoDB write held by a :class:`~tests.reliability.freeze.WriteGate`)
while another action changes what it checked, released at twelve delays from just
before to well after the other action's end.

Whatever the delay, the outcome must be one the rules allow, the answers must say what
was stored, and when the other action had finished before the write went, the frozen
action must be refused: a removed member posts nothing, edits nothing and receives
nothing written after the removal; an admin who handed the room over decides, removes
and hands over nothing; a member handed the room can't leave it without an admin.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chat.store import MEMBER_PREFIX
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import create_room, join, store_for
from tests.reliability.conftest import RELIABLE, record
from tests.reliability.freeze import WriteGate, write_gate
from tests.timing import seconds

pytestmark = [RELIABLE, pytest.mark.timeout(900)]  # twelve trials each, under load

# When the frozen write goes: the first six a few milliseconds after the competing
# action starts (before, during or after its own write, as the machine's load has it),
# the last six that long after the competing action has answered.
DURING = tuple((False, d) for d in (0.0, 0.01, 0.05, 0.1, 0.2, 0.4))
AFTER = tuple((True, d) for d in (0.0, 0.005, 0.01, 0.02, 0.05, 0.1))
DELAYS = DURING + AFTER
Connect = Callable[..., ChatClient]


@pytest.fixture
def gate(harness: Harness) -> Iterator[WriteGate]:
    with write_gate(harness) as gate:
        yield gate


@dataclass
class Frame:
    """A request to send: who, which action, with what."""

    client: ChatClient
    action: str
    payload: dict[str, Any]


@dataclass
class Outcome:
    victim: dict[str, Any]  # the frozen action's answer
    competitor: dict[str, Any]
    competitor_first: bool  # the competitor had answered before the frozen write went

    def victim_code(self) -> str:
        return str(self.victim.get("code") or self.victim["type"])


def race(
    gate: WriteGate, marker: str, victim: Frame, competitor: Frame, delay: tuple[bool, float]
) -> Outcome:
    """Send ``victim``, freeze it at its write (the first carrying ``marker``), run
    ``competitor``, and release the write ``delay`` seconds after the competitor began
    or, if ``after_answer``, after it answered."""
    after_answer, seconds_ = delay
    hold = gate.hold(marker)
    victim_ref = secrets.token_hex(4)
    victim.client.send(victim.action, ref=victim_ref, **victim.payload)
    assert hold.arrived.wait(seconds(20)), f"{victim.action} never reached its write"
    answered = threading.Event()
    answer: dict[str, Any] = {}

    def compete() -> None:
        ref = secrets.token_hex(4)
        competitor.client.send(competitor.action, ref=ref, **competitor.payload)
        answer.update(competitor.client.wait_for_ref(ref))
        answered.set()

    thread = threading.Thread(target=compete, daemon=True)
    thread.start()
    if after_answer:
        assert answered.wait(seconds(30)), f"{competitor.action} got no answer"
    time.sleep(seconds_)  # the fault being injected: how long the write stays frozen
    competitor_first = answered.is_set()
    hold.released.set()
    thread.join(seconds(30))
    assert answered.is_set(), f"{competitor.action} got no answer"
    return Outcome(victim.client.wait_for_ref(victim_ref), answer, competitor_first)


class Tally:
    """The figures of one race, recorded for docs/reliability.md."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.answers: Counter[str] = Counter()
        self.late = 0  # trials where the frozen write went after the competitor answered

    def add(self, outcome: Outcome) -> None:
        self.answers[outcome.victim_code()] += 1
        self.late += outcome.competitor_first

    def record(self) -> None:
        record(f"races: {self.name}: trials", sum(self.answers.values()))
        record(f"races: {self.name}: write released after the other action answered", self.late)
        record(f"races: {self.name}: answers", dict(sorted(self.answers.items())))
        assert self.late >= len(AFTER), f"{self.name}: {self.late} late writes"


def new_room(admin: ChatClient, *members: ChatClient) -> str:
    """A new room of ``admin``, the others approved members (one room per trial)."""
    room_id = create_room(admin, "Races")
    for member in members:
        join(admin, member, room_id)
    return room_id


def history(harness: Harness, room_id: str) -> list[Any]:
    return store_for(harness).messages(room_id, None, 50)[0]


def copies(client: ChatClient, message_id: str) -> int:
    """How many times the client has received the message (after a round trip)."""
    return sum(
        1 for e in client.drain()
        if e.get("type") == "message" and e["message"]["messageId"] == message_id
    )  # fmt: skip


def after(events: list[dict[str, Any]], kind: str, room_id: str) -> list[dict[str, Any]]:
    """The events that came after the first of type ``kind`` for the room."""
    for i, event in enumerate(events):
        if event.get("type") == kind and event.get("roomId") == room_id:
            return events[i + 1 :]
    raise AssertionError(f"no {kind} for {room_id}")


# --- a removed member -----------------------------------------------------------------


def test_a_send_frozen_across_the_senders_removal(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """V sends while the admin removes V: V's message is stored (before the removal's
    notice) and answered messageSent, or refused NOT_MEMBER and stored nowhere; never
    stored after the removal; V receives nothing after ``removed`` written after it."""
    tally = Tally("send vs the sender's removal")
    admin, victim, witness = connect("Admin"), connect("V"), connect("W")
    for delay in DELAYS:
        room_id = new_room(admin, victim, witness)
        message_id = secrets.token_hex(8)
        outcome = race(
            gate,
            message_id,
            Frame(victim, "sendMessage", {"roomId": room_id, "messageId": message_id, "text": "x"}),
            Frame(admin, "removeMember", {"roomId": room_id, "userId": victim.user_id}),
            delay,
        )
        tally.add(outcome)
        assert outcome.competitor["type"] == "memberRemoved", outcome
        entries = history(harness, room_id)
        stored = [m for m in entries if m.message_id == message_id]
        (notice,) = [m for m in entries if m.kind == "removed"]
        if outcome.victim_code() == "messageSent":
            assert not outcome.competitor_first, f"stored after the removal at {delay}"
            assert len(stored) == 1
            assert stored[0].sort_key < notice.sort_key, "V's message after its removal"
        else:
            assert outcome.victim_code() == "NOT_MEMBER", outcome
            assert stored == []
        got = [
            e for e in witness.drain() if e.get("type") == "message"
            and e["message"]["messageId"] == message_id
        ]  # fmt: skip
        assert len(got) == len(stored), "the room receives what is stored, once"
        for event in after(victim.drain(), "removed", room_id):
            if event.get("type") == "message":
                assert event["message"]["sentAt"] < notice.sent_at, event
    tally.record()


def test_a_send_frozen_across_anothers_removal_never_reaches_them(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """W sends while the admin removes V: once the removal has committed before W's
    message is stored, V never receives it; the rest of the room receives it once."""
    tally = Tally("send vs a recipient's removal")
    admin, removed, sender = connect("Admin"), connect("V"), connect("W")
    for delay in DELAYS:
        room_id = new_room(admin, removed, sender)
        message_id = secrets.token_hex(8)
        outcome = race(
            gate,
            message_id,
            Frame(sender, "sendMessage", {"roomId": room_id, "messageId": message_id, "text": "x"}),
            Frame(admin, "removeMember", {"roomId": room_id, "userId": removed.user_id}),
            delay,
        )
        tally.add(outcome)
        assert outcome.victim_code() == "messageSent", outcome

        assert copies(admin, message_id) == 1
        got = copies(removed, message_id)
        if outcome.competitor_first:
            assert got == 0, f"V received a message stored after its removal ({delay} s)"
        assert got <= 1
    tally.record()


@pytest.mark.parametrize("action", ["editMessage", "deleteMessage"])
def test_an_edit_or_delete_frozen_across_the_authors_removal(
    harness: Harness, connect: Connect, gate: WriteGate, action: str
) -> None:
    """V edits (or deletes) its message while the admin removes V: the change is stored
    and answered, or refused NOT_MEMBER and the message left as it was."""
    tally = Tally(f"{action} vs the author's removal")
    store = store_for(harness)
    admin, victim = connect("Admin"), connect("V")
    for delay in DELAYS:
        room_id = new_room(admin, victim)
        message_id = secrets.token_hex(8)
        victim.request(
            "sendMessage", expect="messageSent", roomId=room_id, messageId=message_id, text="v1"
        )
        payload = {"roomId": room_id, "messageId": message_id}
        if action == "editMessage":
            payload["text"] = "v2"
        outcome = race(
            gate,
            message_id,
            Frame(victim, action, payload),
            Frame(admin, "removeMember", {"roomId": room_id, "userId": victim.user_id}),
            delay,
        )
        tally.add(outcome)
        stored = store.message(room_id, message_id)
        assert stored is not None
        changed = stored.version == 2
        if outcome.victim_code() in ("messageEdited", "messageDeleted"):
            assert not outcome.competitor_first, f"changed after the removal at {delay}"
            assert changed
        else:
            assert outcome.victim_code() == "NOT_MEMBER", outcome
            assert (changed, stored.text, stored.deleted_at) == (False, "v1", None)
    tally.record()


# --- an admin who hands the room over ---------------------------------------------------


@pytest.mark.parametrize("op", ["approve", "reject"])
def test_a_decision_frozen_across_a_hand_over(
    harness: Harness, connect: Connect, gate: WriteGate, op: str
) -> None:
    """The admin decides a request in one tab while handing the room over in another:
    the decision stands only if it was written while they were admin; after the
    hand-over it is NOT_ADMIN and the request still waits for the new admin."""
    tally = Tally(f"{op} vs a hand-over")
    store = store_for(harness)
    admin, heir, asker = connect("Admin"), connect("Heir"), connect("Asker")
    other_tab = connect("Admin", key=admin.key)
    for delay in DELAYS:
        room_id = new_room(admin, heir)
        asker.request("joinRoom", expect="joinRequested", roomId=room_id)
        outcome = race(
            gate,
            MEMBER_PREFIX + asker.user_id,
            Frame(admin, "joinRoom", {"roomId": room_id, "op": op, "userId": asker.user_id}),
            Frame(other_tab, "transferAdmin", {"roomId": room_id, "userId": heir.user_id}),
            delay,
        )
        tally.add(outcome)
        assert outcome.competitor["type"] == "adminTransferred", outcome
        status = store.member(room_id, asker.user_id)
        if outcome.victim_code() == "joinDecided":
            assert not outcome.competitor_first, f"an ex-admin decided at {delay}"
            expected = "approved" if op == "approve" else "rejected"
            assert status is not None
            assert status.status == expected
        else:
            assert outcome.victim_code() == "NOT_ADMIN", outcome
            assert status is not None
            assert status.status == "pending"
    tally.record()


def test_a_removal_frozen_across_a_hand_over(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """The admin removes a member in one tab while handing the room over in another: the
    removal stands only if written while they were admin, else NOT_ADMIN and the member
    stays."""
    tally = Tally("removeMember vs a hand-over")
    store = store_for(harness)
    admin, heir, member = connect("Admin"), connect("Heir"), connect("Member")
    other_tab = connect("Admin", key=admin.key)
    for delay in DELAYS:
        room_id = new_room(admin, heir, member)
        outcome = race(
            gate,
            MEMBER_PREFIX + member.user_id,
            Frame(admin, "removeMember", {"roomId": room_id, "userId": member.user_id}),
            Frame(other_tab, "transferAdmin", {"roomId": room_id, "userId": heir.user_id}),
            delay,
        )
        tally.add(outcome)
        assert outcome.competitor["type"] == "adminTransferred", outcome
        remaining = store.member(room_id, member.user_id)
        if outcome.victim_code() == "memberRemoved":
            assert not outcome.competitor_first, f"an ex-admin removed at {delay}"
            assert remaining is None
        else:
            assert outcome.victim_code() == "NOT_ADMIN", outcome
            assert remaining is not None
    tally.record()


def test_two_hand_overs_at_once_leave_one_admin(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """The admin hands the room to B in one tab and to C in another: exactly one stands,
    the other is NOT_ADMIN, and the room has exactly one admin, an approved member."""
    tally = Tally("transferAdmin vs a hand-over")
    store = store_for(harness)
    admin, first, second = connect("Admin"), connect("B"), connect("C")
    other_tab = connect("Admin", key=admin.key)
    for delay in DELAYS:
        room_id = new_room(admin, first, second)
        outcome = race(
            gate,
            MEMBER_PREFIX + first.user_id,
            Frame(admin, "transferAdmin", {"roomId": room_id, "userId": first.user_id}),
            Frame(other_tab, "transferAdmin", {"roomId": room_id, "userId": second.user_id}),
            delay,
        )
        tally.add(outcome)
        room, members = store.load_room(room_id)
        admins = [m.user_id for m in members if m.role == "admin"]
        assert admins == [room.admin_id]
        if outcome.victim_code() == "adminTransferred":
            assert not outcome.competitor_first
            assert outcome.competitor.get("code") == "NOT_ADMIN", outcome
            assert room.admin_id == first.user_id
        else:
            assert outcome.victim_code() == "NOT_ADMIN", outcome
            assert room.admin_id == second.user_id
    tally.record()


# --- leaving -------------------------------------------------------------------------


def test_a_leave_frozen_across_being_handed_the_room(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """V leaves while the admin hands V the room: V leaves (and the hand-over finds no
    member), or V is the admin and told ADMIN_CANNOT_LEAVE; the room always has exactly
    one admin, an approved member."""
    tally = Tally("leaveRoom vs being handed the room")
    store = store_for(harness)
    admin, victim = connect("Admin"), connect("V")
    for delay in DELAYS:
        room_id = new_room(admin, victim)
        outcome = race(
            gate,
            MEMBER_PREFIX + victim.user_id,
            Frame(victim, "leaveRoom", {"roomId": room_id}),
            Frame(admin, "transferAdmin", {"roomId": room_id, "userId": victim.user_id}),
            delay,
        )
        tally.add(outcome)
        room, members = store.load_room(room_id)
        admins = [m.user_id for m in members if m.role == "admin" and m.status == "approved"]
        assert admins == [room.admin_id], "one admin, an approved member"
        if outcome.victim_code() == "left":
            assert not outcome.competitor_first
            assert outcome.competitor.get("code") == "NO_SUCH_MEMBER", outcome
            assert store.member(room_id, victim.user_id) is None
        else:
            assert outcome.victim_code() == "ADMIN_CANNOT_LEAVE", outcome
            assert room.admin_id == victim.user_id
    tally.record()


def test_a_withdrawal_frozen_across_its_approval(
    harness: Harness, connect: Connect, gate: WriteGate
) -> None:
    """A requester withdraws while the admin approves: they end with no membership and
    the answer ``left`` (whichever came first), and the room's list and notices agree."""
    tally = Tally("leaveRoom (withdraw) vs approval")
    store = store_for(harness)
    admin, asker = connect("Admin"), connect("Asker")
    for delay in DELAYS:
        room_id = new_room(admin)
        asker.request("joinRoom", expect="joinRequested", roomId=room_id)
        outcome = race(
            gate,
            MEMBER_PREFIX + asker.user_id,
            Frame(asker, "leaveRoom", {"roomId": room_id}),
            Frame(admin, "joinRoom", {"roomId": room_id, "op": "approve", "userId": asker.user_id}),
            delay,
        )
        tally.add(outcome)
        assert outcome.victim_code() == "left", outcome
        assert store.member(room_id, asker.user_id) is None
        kinds = [m.kind for m in history(harness, room_id) if m.user_id == asker.user_id]
        if outcome.competitor["type"] == "joinDecided":
            assert kinds == ["joined", "left"], kinds  # approved, then left as a member
        else:
            assert outcome.competitor.get("code") == "NO_PENDING_REQUEST", outcome
            assert kinds == []
    tally.record()
