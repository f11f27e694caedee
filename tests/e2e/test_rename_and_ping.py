"""``rename`` and ``ping`` end to end: a new name without reconnecting, and a heartbeat
that keeps a quiet connection open and tells a client its socket still works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chat import app
from emulator.harness import Harness
from tests.e2e.chat import (
    MakeClient,
    create_room,
    is_text,
    join,
    say,
    store_for,
)


def test_ping_answers_pong_to_the_caller_only(make_client: MakeClient) -> None:
    """pong comes back with the ping's ref (none without one) and nobody else hears it."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    alice.send("ping", ref="hb1")
    assert alice.wait_for_ref("hb1") == {"type": "pong", "ref": "hb1"}
    alice.send("ping")
    assert alice.wait_for("pong") == {"type": "pong"}
    assert [e for e in bob.drain() if e.get("type") == "pong"] == []


def test_a_ping_from_a_connection_the_server_counts_as_closed_says_reconnect(
    stack: Harness, make_client: MakeClient
) -> None:
    """When the server has marked a connection closed (so it is in no room's fan-out),
    its ping gets NOT_CONNECTED: the client learns to reconnect."""
    alice = make_client("Alice")
    store = store_for(stack)
    (connection,) = store.open_connections(alice.user_id)
    store.retire_connection(connection.connection_id, app.now(), app.epoch_seconds() + 600)
    reply = alice.request("ping", expect="pong")
    assert (reply["type"], reply["code"]) == ("error", "NOT_CONNECTED")


def test_rename_reaches_every_tab_every_room_and_later_messages(
    stack: Harness, make_client: MakeClient
) -> None:
    """A rename: the caller and the user's other tab are told, every room where the user
    is approved or pending gets a new list with the name, messages from then on carry
    it and earlier ones keep theirs; nobody is disconnected."""
    alice, host = make_client("Alice"), make_client("Host")
    bob = make_client("Bob")
    bob_tab = make_client("Bob", key=bob.key)
    approved_room = create_room(host, "Approved")
    pending_room = create_room(host, "Pending")
    join(host, bob, approved_room)
    join(host, alice, approved_room)
    assert bob.request("joinRoom", expect="joinRequested", roomId=pending_room)["type"] == (
        "joinRequested"
    )
    say(bob, approved_room, "before")
    store = store_for(stack)
    versions = {r: store.load_room(r)[0].version for r in (approved_room, pending_room)}

    renamed = bob.request("rename", expect="renamed", name="  Robert  ")
    assert (renamed["type"], renamed["name"]) == ("renamed", "Robert")
    assert bob_tab.wait_for("renamed") == {"type": "renamed", "name": "Robert"}
    for room_id in (approved_room, pending_room):
        listed = host.wait_for("members", named(bob.user_id, "Robert"), roomId=room_id)
        assert listed["version"] > versions[room_id]
    alice.wait_for("members", named(bob.user_id, "Robert"), roomId=approved_room)

    say(bob_tab, approved_room, "after")
    texts = {}
    for event in alice.drain():
        if is_text(event):
            texts[event["message"]["text"]] = event["message"]["name"]
    assert texts["after"] == "Robert"
    history = alice.request("getHistory", expect="history", roomId=approved_room)["messages"]
    names = {m["text"]: m["name"] for m in history if m["kind"] == "text"}
    assert names == {"before": "Bob", "after": "Robert"}
    rooms = bob.request("listRooms", expect="rooms")
    assert rooms["name"] == "Robert"  # both tabs still connected, under the new name
    assert bob_tab.request("listRooms", expect="rooms")["name"] == "Robert"
    assert {c.name for c in store.open_connections(bob.user_id)} == {"Robert"}


def named(user_id: str, name: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a members event lists the user under ``name``."""
    return lambda event: any(m["userId"] == user_id and m["name"] == name for m in event["members"])


@pytest.mark.parametrize("name", ["", "   ", "x" * 33, "a\u202eb", None, 12])
def test_a_bad_new_name_is_refused_and_changes_nothing(
    stack: Harness, make_client: MakeClient, name: object
) -> None:
    """A name that $connect would refuse is INVALID_PAYLOAD (field name) for rename too,
    and the user keeps their name everywhere."""
    bob = make_client("Bob")
    room_id = create_room(bob)
    reply = bob.request("rename", expect="renamed", name=name)
    assert (reply["code"], reply["field"]) == ("INVALID_PAYLOAD", "name")
    store = store_for(stack)
    assert {c.name for c in store.open_connections(bob.user_id)} == {"Bob"}
    assert [m.name for m in store.memberships(bob.user_id)] == ["Bob"]
    assert store.load_room(room_id)[0].version == 1
