"""Issue 12's protocol end to end: idempotent sends, edits and deletes, the admin's
powers, notices of who joined and left, room previews, and what an invitee may learn."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from chat import rules
from chat.store import Conflict
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import MakeClient, create_room, heard, is_text, join, member, say, store_for


def new_id() -> str:
    """A client-generated message id."""
    return secrets.token_hex(8)


def send_as(client: ChatClient, room_id: str, message_id: str, text: str) -> dict[str, Any]:
    return client.request(
        "sendMessage", expect="messageSent", roomId=room_id, messageId=message_id, text=text
    )


def history(client: ChatClient, room_id: str) -> list[dict[str, Any]]:
    reply = client.request("getHistory", expect="history", roomId=room_id)
    assert reply["type"] == "history", reply
    return list(reply["messages"])


def copies(events: list[dict[str, Any]], message_id: str) -> int:
    return sum(1 for e in events if is_text(e) and e["message"]["messageId"] == message_id)


# --- sendMessage is idempotent ---------------------------------------------------------


def test_repeated_message_id_is_stored_and_delivered_once(make_client: MakeClient) -> None:
    """A double press sends one id twice: one copy stored and delivered, both acknowledged."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    first = send_as(alice, room_id, message_id, "only once")
    again = send_as(alice, room_id, message_id, "only once")
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert (again["messageId"], again["sentAt"]) == (message_id, first["sentAt"])
    assert copies(bob.drain(), message_id) == 1
    assert copies(alice.drain(), message_id) == 1
    assert [m["messageId"] for m in history(bob, room_id) if m["kind"] == "text"] == [message_id]


def test_retry_after_a_lost_reply_does_not_duplicate(make_client: MakeClient) -> None:
    """The sender's connection drops before the reply; the retry is acknowledged, not re-sent."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    alice.send("sendMessage", roomId=room_id, messageId=message_id, text="did it arrive?")
    delivered = bob.wait_for("message", lambda e: e["message"]["messageId"] == message_id)
    alice.close()  # the acknowledgement is never read: lost with the connection

    again = make_client("Alice", key=alice.key)
    retried = send_as(again, room_id, message_id, "did it arrive?")
    assert retried["type"] == "messageSent", retried
    assert (retried["duplicate"], retried["sentAt"]) == (True, delivered["message"]["sentAt"])
    assert copies(bob.drain(), message_id) == 0
    assert [m["text"] for m in history(bob, room_id) if m["kind"] == "text"] == ["did it arrive?"]


def test_an_id_taken_by_someone_else_is_refused(make_client: MakeClient) -> None:
    """Reusing another member's message id is an error and changes nothing."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    send_as(alice, room_id, message_id, "mine")
    refused = send_as(bob, room_id, message_id, "not yours")
    assert (refused["code"], refused["field"]) == ("INVALID_PAYLOAD", "messageId")
    texts = [m["text"] for m in history(alice, room_id) if m["kind"] == "text"]
    assert texts == ["mine"]


# --- edits and deletes ---------------------------------------------------------------------


def test_author_edits_and_deletes_live_and_in_history(make_client: MakeClient) -> None:
    """Everyone sees an edit and a delete as they happen, and history keeps both."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    send_as(bob, room_id, message_id, "helo")

    edited = bob.request(
        "editMessage", expect="messageEdited", roomId=room_id, messageId=message_id, text="hello"
    )
    assert edited["messageId"] == message_id
    for client in (alice, bob):
        seen = client.wait_for("messageUpdated")["message"]
        assert (seen["messageId"], seen["text"], seen["editedAt"]) == (
            message_id,
            "hello",
            edited["editedAt"],
        )
    stored = next(m for m in history(alice, room_id) if m["messageId"] == message_id)
    assert (stored["text"], stored["editedAt"]) == ("hello", edited["editedAt"])

    deleted = bob.request(
        "deleteMessage", expect="messageDeleted", roomId=room_id, messageId=message_id
    )
    seen = alice.wait_for("messageUpdated")["message"]
    assert (seen["text"], seen["deletedAt"]) == ("", deleted["deletedAt"])
    stored = next(m for m in history(alice, room_id) if m["messageId"] == message_id)
    assert (stored["text"], stored["deletedAt"]) == ("", deleted["deletedAt"])

    gone = bob.request(
        "editMessage", expect="messageEdited", roomId=room_id, messageId=message_id, text="back"
    )
    assert gone["code"] == "MESSAGE_NOT_FOUND"


def test_only_the_author_may_edit_or_delete(make_client: MakeClient) -> None:
    """Other members, the admin included, get NOT_AUTHOR; unknown ids MESSAGE_NOT_FOUND."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    send_as(bob, room_id, message_id, "bob's words")
    for action, extra in (("editMessage", {"text": "alice's now"}), ("deleteMessage", {})):
        refused = alice.request(
            action, expect="never", roomId=room_id, messageId=message_id, **extra
        )
        assert refused["code"] == "NOT_AUTHOR", refused
        missing = bob.request(action, expect="never", roomId=room_id, messageId=new_id(), **extra)
        assert missing["code"] == "MESSAGE_NOT_FOUND", missing
    stored = next(m for m in history(alice, room_id) if m["messageId"] == message_id)
    assert stored["text"] == "bob's words"
    assert "editedAt" not in stored


def test_the_stored_item_itself_refuses_a_non_author(
    stack: Harness, make_client: MakeClient
) -> None:
    """Below the rules, the write's condition refuses a change by anyone but the author
    (a Conflict: the handler reads the message again and checks again)."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = new_id()
    send_as(bob, room_id, message_id, "untouchable")
    store = store_for(stack)
    original = store.message(room_id, message_id)
    assert original is not None
    forged = rules.Message(**{**original.__dict__, "user_id": alice.user_id})
    with pytest.raises(Conflict):
        store.edit_message(forged, "forged", "2030-01-01T00:00:00.000Z")
    with pytest.raises(Conflict):
        store.delete_message(forged, "2030-01-01T00:00:00.000Z")
    assert store.message(room_id, message_id) == original


# --- the admin's powers --------------------------------------------------------------------


def test_admin_removes_a_member_who_then_can_neither_read_post_nor_hear(
    make_client: MakeClient,
) -> None:
    """A removed member is told, drops out of the list and is cut off from the room."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    join(alice, carol, room_id)
    removed = alice.request(
        "removeMember", expect="memberRemoved", roomId=room_id, userId=bob.user_id
    )
    assert removed["userId"] == bob.user_id
    assert bob.wait_for("removed", roomId=room_id)["roomName"] == "Lobby"
    notice = carol.wait_for("message", lambda e: e["message"]["kind"] == "removed")["message"]
    assert (notice["userId"], notice["name"]) == (bob.user_id, "Bob")
    carol.wait_for("members", lambda e: member(e, "Bob") is None)

    bob.drain()
    say(alice, room_id, "after bob")
    assert heard(carol) == "after bob"
    assert [e for e in bob.drain() if e.get("roomId") == room_id or is_text(e)] == []
    for action, payload in (
        ("sendMessage", {"text": "still here?"}),
        ("getHistory", {}),
        ("getMembers", {}),
        ("typing", {}),
        ("editMessage", {"messageId": new_id(), "text": "x"}),
        ("deleteMessage", {"messageId": new_id()}),
    ):
        refused = bob.request(action, expect="never", roomId=room_id, **payload)
        assert refused["code"] == "NOT_MEMBER", (action, refused)
    assert bob.request("listRooms", expect="rooms")["rooms"] == []


@pytest.mark.parametrize("action", ["removeMember", "transferAdmin"])
def test_admin_actions_authorization(make_client: MakeClient, action: str) -> None:
    """Only the admin may remove or hand over, and only to an approved member."""
    alice, bob, pat = make_client("Alice"), make_client("Bob"), make_client("Pat")
    outsider = make_client("Olga")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    pat.request("joinRoom", expect="joinRequested", roomId=room_id)
    for caller in (bob, pat, outsider):
        refused = caller.request(action, expect="never", roomId=room_id, userId=bob.user_id)
        assert refused["code"] == "NOT_ADMIN", refused
    for target in (pat.user_id, outsider.user_id):
        refused = alice.request(action, expect="never", roomId=room_id, userId=target)
        assert refused["code"] == "NO_SUCH_MEMBER", refused
    on_self = alice.request(action, expect="never", roomId=room_id, userId=alice.user_id)
    assert on_self["code"] == (
        "ADMIN_CANNOT_LEAVE" if action == "removeMember" else "INVALID_PAYLOAD"
    )
    members = alice.request("getMembers", expect="members", roomId=room_id)["members"]
    assert [(m["name"], m["role"], m["status"]) for m in members] == [
        ("Alice", "admin", "approved"),
        ("Bob", "member", "approved"),
        ("Pat", "member", "pending"),
    ]


def test_admin_hands_the_room_over_and_leaves(make_client: MakeClient) -> None:
    """After handing over, the new admin decides requests and the former one may leave."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    handed = alice.request(
        "transferAdmin", expect="adminTransferred", roomId=room_id, userId=bob.user_id
    )
    assert handed["userId"] == bob.user_id
    now = bob.wait_for("members", lambda e: (member(e, "Bob") or {}).get("role") == "admin")
    assert (member(now, "Alice") or {})["role"] == "member"
    assert now["members"][0]["name"] == "Bob"  # the admin is listed first
    notice = bob.wait_for("message", lambda e: e["message"]["kind"] == "admin")["message"]
    assert notice["userId"] == bob.user_id

    carol.request("joinRoom", expect="joinRequested", roomId=room_id)
    assert bob.wait_for("joinRequest", roomId=room_id)["user"]["name"] == "Carol"
    refused = alice.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=carol.user_id
    )
    assert refused["code"] == "NOT_ADMIN"
    approved = bob.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=carol.user_id
    )
    assert approved["status"] == "approved"

    assert alice.request("leaveRoom", expect="left", roomId=room_id)["type"] == "left"
    left = bob.wait_for("message", lambda e: e["message"]["kind"] == "left")["message"]
    assert (left["userId"], left["name"]) == (alice.user_id, "Alice")
    refused = bob.request("leaveRoom", expect="left", roomId=room_id)
    assert refused["code"] == "ADMIN_CANNOT_LEAVE"


# --- the conversation, the room list, invitations -------------------------------------------


def test_joins_and_leaves_are_entries_of_the_conversation(make_client: MakeClient) -> None:
    """Approval and leaving show in the conversation, live and in history, in order."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    joined = alice.wait_for("message", lambda e: e["message"]["kind"] == "joined")["message"]
    assert (joined["userId"], joined["name"], joined["text"]) == (bob.user_id, "Bob", "")
    say(bob, room_id, "hi, and bye")
    bob.request("leaveRoom", expect="left", roomId=room_id)
    alice.wait_for("message", lambda e: e["message"]["kind"] == "left")
    assert [(m["kind"], m["name"]) for m in history(alice, room_id)] == [
        ("joined", "Bob"),
        ("text", "Bob"),
        ("left", "Bob"),
    ]


def test_rooms_come_by_latest_activity_with_a_preview(make_client: MakeClient) -> None:
    """listRooms orders rooms by their newest entry and previews it; requests have none."""
    alice, bob = make_client("Alice"), make_client("Bob")
    first = create_room(alice, "First")
    second = create_room(alice, "Second")
    elsewhere = create_room(bob, "Elsewhere")
    alice.request("joinRoom", expect="joinRequested", roomId=elsewhere)
    say(alice, first, "bumped")
    rooms = alice.request("listRooms", expect="rooms")["rooms"]
    assert [r["name"] for r in rooms] == ["First", "Elsewhere", "Second"]
    assert rooms[0]["lastMessage"]["text"] == "bumped"
    assert rooms[0]["activityAt"] == rooms[0]["lastMessage"]["sentAt"]
    assert rooms[1]["status"] == "pending"
    assert rooms[1]["lastMessage"] is None
    assert (rooms[2]["roomId"], rooms[2]["lastMessage"]) == (second, None)


def test_invitee_learns_the_room_name_before_asking(make_client: MakeClient) -> None:
    """getRoom tells anyone with the id the room's name and size, and nothing is joined."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice, "Book club")
    join(alice, bob, room_id)
    info = carol.request("getRoom", expect="roomInfo", roomId=room_id)
    assert info == {
        "type": "roomInfo",
        "roomId": room_id,
        "name": "Book club",
        "memberCount": 2,
        "ref": info["ref"],
    }
    missing = carol.request("getRoom", expect="roomInfo", roomId="abcdefghjk")
    assert missing["code"] == "ROOM_NOT_FOUND"
    assert carol.request("listRooms", expect="rooms")["rooms"] == []


def test_rejected_user_drops_the_room_and_may_ask_again(make_client: MakeClient) -> None:
    """leaveRoom removes a rejected room from the user's list; a new request is possible."""
    alice, eve = make_client("Alice"), make_client("Eve")
    room_id = create_room(alice)
    eve.request("joinRoom", expect="joinRequested", roomId=room_id)
    alice.request("joinRoom", expect="joinDecided", roomId=room_id, op="reject", userId=eve.user_id)
    eve.wait_for("joinDecision", status="rejected")
    assert eve.request("leaveRoom", expect="left", roomId=room_id)["type"] == "left"
    assert eve.request("listRooms", expect="rooms")["rooms"] == []
    again = eve.request("joinRoom", expect="joinRequested", roomId=room_id)
    assert again["room"]["status"] == "pending"
