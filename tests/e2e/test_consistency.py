"""What concurrency and faults must not break: member lists that end up as stored, and
work the gateway accepted that is stored and delivered whatever happened to its sender."""

from __future__ import annotations

import secrets

from chat.app import now
from chat.rules import Member, Message, Role, Status
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import (
    MakeClient,
    create_room,
    heard,
    is_text,
    join,
    newest_members,
    say,
    store_for,
    stored_members,
)
from tests.timing import settles


def assert_admin_list_settles(stack: Harness, admin: ChatClient, room_id: str) -> None:
    """The list the admin keeps ends up as the stored one, and stays so."""

    def agrees() -> bool:
        return newest_members(admin.listen(), room_id) == stored_members(stack, room_id)

    assert settles(agrees), (newest_members(admin.events, room_id), stored_members(stack, room_id))
    admin.events = admin.drain()  # whatever was in flight has arrived: still the stored list
    assert agrees()


def test_concurrent_join_requests_all_reach_the_admins_list(
    stack: Harness, make_client: MakeClient
) -> None:
    """Eight users ask to join at the same instant: the admin's newest list has all eight."""
    admin = make_client("Admin")
    room_id = create_room(admin)
    users = [make_client(f"Asker {i}") for i in range(8)]
    for user in users:
        user.send("joinRoom", roomId=room_id, ref="go")
    for user in users:
        assert user.wait_for_ref("go")["type"] == "joinRequested"
    assert_admin_list_settles(stack, admin, room_id)
    listed = {m["userId"] for m in newest_members(admin.events, room_id) or []}
    assert {u.user_id for u in users} <= listed


def test_concurrent_leaves_leave_the_admins_list_as_stored(
    stack: Harness, make_client: MakeClient
) -> None:
    """Four members leave at once: the admin's newest list is the admin alone."""
    admin = make_client("Admin")
    room_id = create_room(admin)
    members = [make_client(f"Member {i}") for i in range(4)]
    for member in members:
        join(admin, member, room_id)
    for member in members:
        member.send("leaveRoom", roomId=room_id, ref="bye")
    for member in members:
        assert member.wait_for_ref("bye")["type"] == "left"
    assert_admin_list_settles(stack, admin, room_id)
    assert [m["userId"] for m in newest_members(admin.events, room_id) or []] == [admin.user_id]


def test_a_sender_whose_connection_drops_has_everything_it_sent_stored(
    stack: Harness, make_client: MakeClient
) -> None:
    """20 messages sent, then the TCP connection dropped without a close: all 20 stored,
    and the other member receives all 20."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    ids = [secrets.token_hex(8) for _ in range(20)]
    for i, message_id in enumerate(ids):
        bob.send("sendMessage", roomId=room_id, messageId=message_id, text=f"burst {i}")
    bob.drop()  # no close frame: the gateway sees the TCP connection reset
    store = store_for(stack)

    def stored() -> set[str]:
        return {m.message_id for m in store.messages(room_id, None, 50)[0]}

    # One sender's sends are stored one after another (each conditional on the previous:
    # per-sender order), so 20 at once take a while on a loaded machine.
    assert settles(lambda: set(ids) <= stored(), timeout=30), (
        f"{len(set(ids) & stored())} of 20 stored"
    )
    heard = set()

    def all_heard() -> bool:
        heard.update(e["message"]["messageId"] for e in alice.listen() if is_text(e))
        return set(ids) <= heard

    assert settles(all_heard, timeout=30), f"alice heard {len(heard & set(ids))} of 20"


def test_a_retry_completes_a_delivery_that_died_half_way(
    stack: Harness, make_client: MakeClient
) -> None:
    """A message stored but never delivered (its function died in between): the sender's
    retry with the same id delivers it to the room, once, and stores nothing new."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    message_id = secrets.token_hex(8)
    store = store_for(stack)
    # What the function had done when it died: the message and its id stored, no posts.
    assert store.add_message(
        Message(room_id, message_id, alice.user_id, "Alice", "half way", now())
    )
    retry = alice.request(
        "sendMessage", expect="messageSent", roomId=room_id, messageId=message_id, text="x"
    )
    assert (retry["type"], retry["duplicate"]) == ("messageSent", True), retry
    got = bob.wait_for("message", lambda e: e["message"]["messageId"] == message_id)
    assert got["message"]["text"] == "half way"
    again = alice.request(
        "sendMessage", expect="messageSent", roomId=room_id, messageId=message_id, text="x"
    )
    assert again["duplicate"] is True
    texts = [e for e in bob.drain() if is_text(e) and e["message"]["messageId"] == message_id]
    assert texts == [], "a delivery that finished is not repeated"
    stored = [m for m in store.messages(room_id, None, 50)[0] if m.message_id == message_id]
    assert len(stored) == 1


def test_seated_members_are_in_the_room_and_receive_its_messages(
    stack: Harness, make_client: MakeClient
) -> None:
    """Store.seat (how the load test and the bench fill big rooms) writes memberships the
    handlers treat as any approved member's: they are listed and receive messages."""
    admin = make_client("Host")
    room_id = create_room(admin, "Seated")
    guests = [make_client(f"Seated {n}") for n in range(3)]
    store = store_for(stack)
    version_before = store.load_room(room_id)[0].version
    seated = []
    for guest in guests:
        (connection,) = store.open_connections(guest.user_id)
        seated.append(
            Member(
                room_id=room_id,
                user_id=guest.user_id,
                name=connection.name,
                role=Role.MEMBER,
                status=Status.APPROVED,
                requested_at=now(),
                room_name="Seated",
                connections=frozenset({connection.connection_id}),
            )
        )
    store.seat(seated)

    room = store.load_room(room_id)[0]
    assert room.version == version_before + 1  # one change of the list, counted once
    listed = {m["userId"]: m for m in stored_members(stack, room_id)}
    for guest in guests:
        assert listed[guest.user_id]["status"] == "approved"
        assert listed[guest.user_id]["online"] is True
    say(admin, room_id, "to the seated")
    for guest in guests:
        assert heard(guest) == "to the seated"
    assert admin.request("getMembers", expect="members", roomId=room_id)["version"] == room.version
