"""The bounds one client can't push past: request rates, connections per user, join
requests waiting, member lists larger than a post, replies that can't be posted, and
presence that converges when ``$disconnect`` is lost.

These run on a stack of their own with small limits (``LIMITED`` in tests/conftest.py), so that
reaching them is quick.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chat.rules import Identity
from chat.store import MEMBER_PREFIX
from emulator.harness import Harness
from tests.client import ChatClient
from tests.conftest import LIMITED, SMALL_LIMITS
from tests.e2e.chat import create_room, join, member, say, store_for
from tests.timing import settles

LIMITS = SMALL_LIMITS
pytestmark = LIMITED


def in_a_fresh_window(needed: float = 20.0) -> float:
    """Now, or when the next of the server's rate windows begins if this one has less than
    ``needed`` seconds left, so that a burst fits in one window however slow the machine
    is short of extreme; returns the time the burst starts."""
    length = LIMITS["rate_window_seconds"]
    left = length - time.time() % length
    if left < needed:
        time.sleep(left + 0.05)  # waiting for the clock's edge, not for a guess
    return time.time()


def windows_touched(start: float) -> int:
    """How many of the server's fixed rate windows (§7: they start at multiples of their
    length) the time from ``start`` to now touches: a burst across a window's edge may
    pass the rate once in each, and a loaded machine stretches a burst across one."""
    length = LIMITS["rate_window_seconds"]
    return int(time.time() // length) - int(start // length) + 1


def test_a_flooding_connection_is_rate_limited_and_others_are_not(
    stack: Harness, make_client: Callable[..., ChatClient]
) -> None:
    """100 sends in a burst from one connection: those past its rate get RATE_LIMITED
    (with when to retry), at most the rate are stored, and another member still sends."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    start = in_a_fresh_window()
    for i in range(100):
        bob.send("sendMessage", roomId=room_id, text=f"flood {i}", ref=f"f{i}")
    replies = [bob.wait_for_ref(f"f{i}") for i in range(100)]
    windows = windows_touched(start)
    limited_ = [r for r in replies if r.get("code") == "RATE_LIMITED"]
    assert len(limited_) >= 100 - windows * LIMITS["rate_per_connection"]
    assert all(0 < r["retryAfter"] <= LIMITS["rate_window_seconds"] for r in limited_)
    assert {r["type"] for r in replies} <= {"messageSent", "error"}
    assert say_ok(alice, room_id, "still heard")
    stored = store_for(stack).messages(room_id, None, 50)[0]
    flood = sum(1 for m in stored if m.text.startswith("flood"))
    assert flood <= windows * LIMITS["rate_per_connection"]


def say_ok(client: ChatClient, room_id: str, text: str) -> bool:
    return say(client, room_id, text)["type"] == "messageSent"


def test_a_users_tabs_share_the_users_rate(make_client: Callable[..., ChatClient]) -> None:
    """Three tabs of one user, each under its own rate, together meet the user's."""
    first = make_client("Tabs")
    tabs = [first, make_client("Tabs", key=first.key), make_client("Tabs", key=first.key)]
    start = in_a_fresh_window()
    codes = [
        tab.request("getRoom", expect="roomInfo", roomId="abcdefghjk")["code"]
        for _ in range(20)
        for tab in tabs
    ]
    assert codes.count("RATE_LIMITED") > 0
    assert codes.count("ROOM_NOT_FOUND") <= windows_touched(start) * LIMITS["rate_per_user"]


def refused_status(stack: Harness, name: str, key: str) -> int | None:
    """The HTTP status of a refused upgrade, or None when it opened (then closed)."""
    assert stack.gateway is not None
    try:
        with connect(f"{stack.gateway.url}?{urlencode({'name': name, 'key': key})}"):
            return None
    except InvalidStatus as refused:
        return refused.response.status_code


def test_connections_per_user_are_capped_and_closed_ones_free_their_place(
    stack: Harness, make_client: Callable[..., ChatClient]
) -> None:
    """A fourth tab is refused with 429; closing one makes room; a connection whose
    $disconnect was lost (a record with no socket behind it) doesn't count."""
    key = secrets.token_hex(16)
    tabs = [make_client("Many", key=key) for _ in range(LIMITS["max_connections_per_user"])]
    assert refused_status(stack, "Many", key) == 429
    tabs.pop().close()
    assert settles(lambda: refused_status(stack, "Many", key) is None)
    # A ghost: the record of a connection that is gone, its $disconnect never seen.
    ghost = Identity(tabs[0].user_id, "Many")
    store_for(stack).put_connection("ghost-" + secrets.token_hex(4), ghost, "x", 2**31)
    tabs.append(make_client("Many", key=key))  # the ghost is probed and doesn't count


def test_join_requests_waiting_are_bounded_per_room_and_per_user(
    make_client: Callable[..., ChatClient],
) -> None:
    """A room takes 3 waiting requests, a user makes 2: the next gets LIMIT_REACHED and
    changes nothing; a decision frees a place."""
    admin = make_client("Admin")
    room_id = create_room(admin)
    askers = [make_client(f"Asker {i}") for i in range(4)]
    replies = [a.request("joinRoom", expect="joinRequested", roomId=room_id) for a in askers]
    assert [r["type"] for r in replies[:3]] == ["joinRequested"] * 3
    assert (replies[3]["code"], replies[3]["limit"]) == ("LIMIT_REACHED", 3)
    listed = admin.request("getMembers", expect="members", roomId=room_id)["members"]
    assert askers[3].user_id not in {m["userId"] for m in listed}
    admin.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="reject", userId=askers[0].user_id
    )
    assert askers[3].request("joinRoom", expect="joinRequested", roomId=room_id)["type"] == (
        "joinRequested"
    )

    keen = make_client("Keen")
    rooms = [create_room(admin, f"Room {i}") for i in range(3)]
    first, second, third = (
        keen.request("joinRoom", expect="joinRequested", roomId=r) for r in rooms
    )
    assert (first["type"], second["type"]) == ("joinRequested", "joinRequested")
    assert (third["code"], third["limit"]) == ("LIMIT_REACHED", 2)
    keen.request("leaveRoom", expect="left", roomId=rooms[0])  # withdraws one
    assert keen.request("joinRoom", expect="joinRequested", roomId=rooms[2])["type"] == (
        "joinRequested"
    )


def test_a_member_list_over_128_kb_arrives_in_parts(
    stack: Harness, make_client: Callable[..., ChatClient]
) -> None:
    """700 members with 32-emoji names (more than one post holds): getMembers answers
    in parts that each fit, and together they list everyone."""
    admin = make_client("Admin")
    room_id = create_room(admin)
    dynamodb = stack.target.client("dynamodb") if stack.target else None
    assert dynamodb is not None
    assert stack.outputs is not None
    table = stack.outputs.tables["ROOMS_TABLE"]
    users = [f"u{secrets.token_hex(10)}" for _ in range(700)]
    for start in range(0, len(users), 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": seeded_member(room_id, user_id)}}
                    for user_id in users[start : start + 25]
                ]
            }
        )
    admin.send("getMembers", roomId=room_id, ref="all")
    first = admin.wait_for_ref("all")
    assert first["type"] == "members", first
    parts = [first] + [admin.wait_for_ref("all") for _ in range(first["parts"] - 1)]
    assert first["parts"] > 1
    assert sorted(p["part"] for p in parts) == list(range(1, first["parts"] + 1))
    listed = [m["userId"] for p in parts for m in p["members"]]
    assert sorted(listed) == sorted([admin.user_id, *users])


def seeded_member(room_id: str, user_id: str) -> dict[str, Any]:
    """An approved member's item, written straight to the table."""
    return {
        "roomId": {"S": room_id},
        "sk": {"S": MEMBER_PREFIX + user_id},
        "userId": {"S": user_id},
        "name": {"S": "\U0001f600" * 32},
        "role": {"S": "member"},
        "status": {"S": "approved"},
        "requestedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "roomName": {"S": "Lobby"},
    }


def test_a_pending_member_whose_disconnect_was_lost_is_shown_offline(
    stack: Harness, make_client: Callable[..., ChatClient]
) -> None:
    """A pending member's connection vanished without $disconnect (broadcasts never post
    to pending members, so no 410 finds it): the admin's list converges to offline."""
    admin, pat = make_client("Admin"), make_client("Pat")
    room_id = create_room(admin)
    pat.request("joinRoom", expect="joinRequested", roomId=room_id)
    assert stack.target is not None
    assert stack.outputs is not None
    stack.target.client("dynamodb").update_item(
        TableName=stack.outputs.tables["ROOMS_TABLE"],
        Key={"roomId": {"S": room_id}, "sk": {"S": MEMBER_PREFIX + pat.user_id}},
        UpdateExpression="ADD connections :c",
        ExpressionAttributeValues={":c": {"SS": ["lost-" + secrets.token_hex(4)]}},
    )
    pat.close()  # its own $disconnect runs; the lost one's never will

    def offline() -> bool:
        listed = admin.request("getMembers", expect="members", roomId=room_id)
        return (member(listed, "Pat") or {}).get("online") is False

    assert settles(offline)
