"""Writes conditional on the state they were checked in, message versions, one id space
per room, and one sender's order: end to end, and below the rules (the store's writes
themselves refusing what a race would otherwise let through)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from chat import app
from chat.errors import NotAdmin, NotMember
from chat.rules import Message, Status
from chat.store import Conflict
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import MakeClient, create_room, is_text, join, store_for


def send(client: ChatClient, room_id: str, text: str, message_id: str | None = None) -> str:
    """Send and wait for the acknowledgement; the message's id."""
    message_id = message_id or secrets.token_hex(8)
    sent = client.request(
        "sendMessage", expect="messageSent", roomId=room_id, messageId=message_id, text=text
    )
    assert sent["type"] == "messageSent", sent
    return message_id


def history(client: ChatClient, room_id: str) -> list[dict[str, Any]]:
    reply = client.request("getHistory", expect="history", roomId=room_id)
    assert reply["type"] == "history", reply
    return list(reply["messages"])


def message(room_id: str, author: ChatClient, sent_at: str, text: str = "x") -> Message:
    return Message(room_id, secrets.token_hex(8), author.user_id, author.name, text, sent_at)


# --- versions ------------------------------------------------------------------------


def test_each_edit_and_delete_raises_the_version(make_client: MakeClient) -> None:
    """A message is version 1; each edit and the delete add one, in the live update, the
    reply and history alike."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = send(bob, room_id, "one")
    assert alice.wait_for("message", is_text)["message"]["version"] == 1
    for version, text in ((2, "two"), (3, "three")):
        edited = bob.request(
            "editMessage", expect="messageEdited", roomId=room_id, messageId=message_id, text=text
        )
        assert edited["version"] == version
        update = alice.wait_for("messageUpdated")["message"]
        assert (update["text"], update["version"]) == (text, version)
    deleted = bob.request(
        "deleteMessage", expect="messageDeleted", roomId=room_id, messageId=message_id
    )
    assert deleted["version"] == 4
    assert alice.wait_for("messageUpdated")["message"]["version"] == 4
    (stored,) = [m for m in history(alice, room_id) if m["messageId"] == message_id]
    assert (stored["version"], stored["text"], "deletedAt" in stored) == (4, "", True)


def test_an_edit_read_before_a_delete_cannot_bring_the_text_back(
    stack: Harness, make_client: MakeClient
) -> None:
    """An edit that read the message before it was deleted loses: its write is refused
    (the version moved on), and the next read finds the message deleted."""
    alice = make_client("Alice")
    room_id = create_room(alice)
    message_id = send(alice, room_id, "soon gone")
    store = store_for(stack)
    read_before = store.message(room_id, message_id)
    assert read_before is not None
    alice.request("deleteMessage", expect="messageDeleted", roomId=room_id, messageId=message_id)
    with pytest.raises(Conflict):
        store.edit_message(read_before, "back again", app.now())
    after = store.message(room_id, message_id)
    assert after is not None
    assert (after.text, after.deleted_at is not None, after.version) == ("", True, 2)


# --- one id space per room -------------------------------------------------------------


def test_a_notices_id_cannot_be_taken_by_a_message(make_client: MakeClient) -> None:
    """sendMessage with the id of the room's "joined" notice is INVALID_PAYLOAD
    (messageId) and stores nothing; editing or deleting the notice is NOT_AUTHOR."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    (joined,) = [m for m in history(bob, room_id) if m["kind"] == "joined"]
    taken = bob.request(
        "sendMessage", expect="messageSent", roomId=room_id, messageId=joined["messageId"], text="x"
    )
    assert (taken["code"], taken["field"]) == ("INVALID_PAYLOAD", "messageId")
    same_id = [m for m in history(alice, room_id) if m["messageId"] == joined["messageId"]]
    assert same_id == [joined]
    for action, fields in (("editMessage", {"text": "mine now"}), ("deleteMessage", {})):
        refused = bob.request(
            action, expect="-", roomId=room_id, messageId=joined["messageId"], **fields
        )
        assert refused["code"] == "NOT_AUTHOR", refused


# --- conditions below the rules ---------------------------------------------------------


def test_a_removed_members_message_is_refused_by_the_write_itself(
    stack: Harness, make_client: MakeClient
) -> None:
    """The send's transaction holds the author's membership: once removed, a message
    checked before the removal stores nothing, and the send answers NOT_MEMBER."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    store = store_for(stack)
    late = message(room_id, bob, app.now(), "checked while a member")
    alice.request("removeMember", expect="memberRemoved", roomId=room_id, userId=bob.user_id)
    with pytest.raises(Conflict):
        store.add_message(late)
    assert store.message(room_id, late.message_id) is None
    refused = bob.request("sendMessage", expect="messageSent", roomId=room_id, text="still here?")
    assert refused["code"] == "NOT_MEMBER"


def test_a_removed_authors_edit_is_refused_by_the_write_itself(
    stack: Harness, make_client: MakeClient
) -> None:
    """An edit read while its author was a member is refused once they are removed."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = send(bob, room_id, "mine")
    store = store_for(stack)
    original = store.message(room_id, message_id)
    assert original is not None
    alice.request("removeMember", expect="memberRemoved", roomId=room_id, userId=bob.user_id)
    with pytest.raises(NotMember):
        store.edit_message(original, "after removal", app.now())
    with pytest.raises(NotMember):
        store.delete_message(original, app.now())
    assert store.message(room_id, message_id) == original


def test_an_ex_admins_decision_is_refused_by_the_write_itself(
    stack: Harness, make_client: MakeClient
) -> None:
    """A decision checked while the caller was admin is refused once they have handed the
    room over: NOT_ADMIN, and the request stays pending for the new admin."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    carol.request("joinRoom", expect="joinRequested", roomId=room_id)
    alice.request("transferAdmin", expect="adminTransferred", roomId=room_id, userId=bob.user_id)
    store = store_for(stack)
    for status in (Status.APPROVED, Status.REJECTED):
        with pytest.raises(NotAdmin):
            store.decide(room_id, carol.user_id, status, alice.user_id)
    waiting = store.member(room_id, carol.user_id)
    assert waiting is not None
    assert waiting.status is Status.PENDING
    decided = bob.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=carol.user_id
    )
    assert decided["status"] == "approved"


# --- one sender's order -------------------------------------------------------------------


def test_a_message_stamped_before_its_authors_last_is_refused_by_the_write_itself(
    stack: Harness, make_client: MakeClient
) -> None:
    """A function instance whose clock is behind can't store a message before the
    author's previous one: the write is refused (and the handler stamps it again)."""
    alice = make_client("Alice")
    room_id = create_room(alice)
    send(alice, room_id, "first")
    store = store_for(stack)
    (first,) = [m for m in store.messages(room_id, None, 50)[0] if m.text == "first"]
    behind = message(room_id, alice, "2020-01-01T00:00:00.000Z", "from a slow clock")
    with pytest.raises(Conflict):
        store.add_message(behind)
    assert store.message(room_id, behind.message_id) is None
    member = store.member(room_id, alice.user_id)
    assert member is not None
    assert member.last_entry == first.sort_key


def test_a_removal_notice_sorts_after_the_removed_members_last_message(
    stack: Harness, make_client: MakeClient
) -> None:
    """However the clocks of the instances stand, the conversation never shows a member's
    message after the notice of their removal."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    store = store_for(stack)
    ahead = message(room_id, bob, "2099-01-01T00:00:00.000Z", "from a fast clock")
    assert store.add_message(ahead)
    alice.request("removeMember", expect="memberRemoved", roomId=room_id, userId=bob.user_id)
    kinds = [(m["userId"], m["kind"]) for m in history(alice, room_id)]
    assert kinds[-2:] == [(bob.user_id, "text"), (bob.user_id, "removed")]


def test_one_senders_messages_arrive_and_stay_in_the_order_sent(
    make_client: MakeClient,
) -> None:
    """Each sent after the previous one's messageSent (the reference client's rule), from
    two tabs in turn: every member receives them in that order, and history keeps it."""
    alice, bob = make_client("Alice"), make_client("Bob")
    bob_tab = make_client("Bob", key=bob.key)
    room_id = create_room(alice)
    join(alice, bob, room_id)
    texts = [f"line {i}" for i in range(12)]
    for i, text in enumerate(texts):
        send(bob if i % 2 else bob_tab, room_id, text)
    for client in (alice, bob, bob_tab):
        live = [e["message"]["text"] for e in client.drain() if is_text(e)]
        assert live == texts, client.name
    assert [m["text"] for m in history(alice, room_id) if m["kind"] == "text"] == texts
