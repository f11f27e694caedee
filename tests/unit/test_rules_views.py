"""Unit tests of ``chat.rules``: what clients are sent."""

from __future__ import annotations

import json
from dataclasses import replace

from chat import rules
from chat.errors import (
    ChatError,
    InvalidPayload,
    NotMember,
)
from chat.rules import Member, Message, Role, Status
from tests.unit.rules_helpers import (
    ADMIN_ID,
    ROOM_ID,
    USER_ID,
    make_member,
    make_message,
    make_room,
)

# --- recipients --------------------------------------------------------------------


def roster() -> list[Member]:
    """Members of every status, with connections."""
    return [
        make_member(
            "u" + "1" * 20, "A", status=Status.APPROVED, connections=frozenset({"c3", "c1"})
        ),
        make_member("u" + "2" * 20, "B", status=Status.APPROVED, connections=frozenset({"c2"})),
        make_member("u" + "3" * 20, "C", status=Status.PENDING, connections=frozenset({"p1"})),
        make_member("u" + "4" * 20, "D", status=Status.REJECTED, connections=frozenset({"r1"})),
        make_member("u" + "5" * 20, "E", status=Status.APPROVED),
    ]


def test_recipients_are_approved_connections_sorted() -> None:
    """Only approved members' connections receive events, in sorted order."""
    assert rules.recipients(roster()) == ["c1", "c2", "c3"]


def test_recipients_exclude() -> None:
    """Excluded connections are left out."""
    assert rules.recipients(roster(), exclude=["c1", "p1"]) == ["c2", "c3"]


def test_recipients_empty() -> None:
    """A room with no approved online members has no recipients."""
    assert rules.recipients([]) == []


# --- visible_members ---------------------------------------------------------------


def test_visible_members_order() -> None:
    """Admin first, then approved, then pending, each by name case-insensitively."""
    members = [
        make_member("u" + "1" * 20, "zed", status=Status.PENDING),
        make_member("u" + "2" * 20, "Bob", status=Status.APPROVED),
        make_member("u" + "3" * 20, "Rita", status=Status.REJECTED),
        make_member("u" + "4" * 20, "Zoe", role=Role.ADMIN, status=Status.APPROVED),
        make_member("u" + "5" * 20, "alice", status=Status.APPROVED),
        make_member("u" + "6" * 20, "Amy", status=Status.PENDING),
    ]
    assert [m.name for m in rules.visible_members(members)] == ["Zoe", "alice", "Bob", "Amy", "zed"]


def test_visible_members_hides_rejected() -> None:
    """Rejected users are not shown."""
    members = [make_member(status=Status.REJECTED)]
    assert rules.visible_members(members) == []


def test_visible_members_ties_broken_by_user_id() -> None:
    """Members with the same name are ordered by user id."""
    first, second = "u" + "1" * 20, "u" + "2" * 20
    members = [make_member(second, "Sam"), make_member(first, "sam")]
    assert [m.user_id for m in rules.visible_members(members)] == [first, second]


# --- views -------------------------------------------------------------------------


def test_member_view_shape() -> None:
    """A member is shown with id, name, role, status and whether online."""
    member = make_member(role=Role.ADMIN, connections=frozenset({"c1"}))
    assert rules.member_view(member) == {
        "userId": USER_ID,
        "name": "Ann",
        "role": "admin",
        "status": "approved",
        "online": True,
    }


def test_member_view_offline() -> None:
    """A member without connections is shown offline."""
    assert rules.member_view(make_member())["online"] is False


def test_members_event_shape() -> None:
    """A members event lists the visible members' views in display order."""
    room = make_room()
    admin = make_member(ADMIN_ID, "Zoe", role=Role.ADMIN)
    member = make_member(USER_ID, "Ann", status=Status.PENDING)
    rejected = make_member("u" + "9" * 20, "Rex", status=Status.REJECTED)
    assert rules.members_events(replace(room, version=7), [member, rejected, admin]) == [
        {
            "type": "members",
            "roomId": ROOM_ID,
            "version": 7,
            "part": 1,
            "parts": 1,
            "members": [rules.member_view(admin), rules.member_view(member)],
        }
    ]


def test_a_long_member_list_comes_in_parts_that_each_fit_a_post() -> None:
    """700 members with 32-emoji names overflow 128 KB: the list is split, in order, each
    part under the budget, every member once, every part with the same version."""
    room = replace(make_room(), version=3)
    members = [make_member(ADMIN_ID, "Zoe", role=Role.ADMIN)] + [
        make_member(f"u{i:020x}", "\U0001f600" * 31 + chr(0x41 + i % 26)) for i in range(700)
    ]
    events = rules.members_events(room, members)
    assert len(events) > 1
    for event in events:
        size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
        assert size <= rules.POST_BUDGET_BYTES + 200
        assert (event["version"], event["parts"]) == (3, len(events))
    assert [e["part"] for e in events] == list(range(1, len(events) + 1))
    listed = [m for e in events for m in e["members"]]
    assert listed == [rules.member_view(m) for m in rules.visible_members(members)]


def test_room_view_without_member() -> None:
    """A room is shown with id, name, admin and creation time."""
    assert rules.room_view(make_room()) == {
        "roomId": ROOM_ID,
        "name": "Lobby",
        "adminId": ADMIN_ID,
        "createdAt": "2026-01-01T00:00:00Z",
    }


def test_room_view_with_member() -> None:
    """A room shown to a member adds the member's role and status."""
    view = rules.room_view(make_room(), make_member(status=Status.PENDING))
    assert view["role"] == "member"
    assert view["status"] == "pending"
    assert set(view) == {"roomId", "name", "adminId", "createdAt", "role", "status"}


def test_message_view_shape() -> None:
    """A message is shown with room, id, author, text, time, kind and version."""
    message = Message(
        room_id=ROOM_ID,
        message_id="00ff00ff00ff00ff",
        user_id=USER_ID,
        name="Ann",
        text="hi\nthere",
        sent_at="2026-01-01T00:00:01Z",
    )
    assert rules.message_view(message) == {
        "roomId": ROOM_ID,
        "messageId": "00ff00ff00ff00ff",
        "userId": USER_ID,
        "name": "Ann",
        "text": "hi\nthere",
        "sentAt": "2026-01-01T00:00:01Z",
        "kind": "text",
        "version": 1,
    }


def test_error_event_without_ref() -> None:
    """An error event has type, code and message, and no ref when none is given."""
    assert rules.error_event(NotMember("nope")) == {
        "type": "error",
        "code": "NOT_MEMBER",
        "message": "nope",
    }


def test_error_event_with_ref_and_details() -> None:
    """An error event merges the error's details and includes the ref when given."""
    error = InvalidPayload("too long", field="text", limit=rules.TEXT_MAX)
    assert rules.error_event(error, ref="r1") == {
        "type": "error",
        "code": "INVALID_PAYLOAD",
        "message": "too long",
        "field": "text",
        "limit": rules.TEXT_MAX,
        "ref": "r1",
    }


def test_error_event_empty_ref_is_included() -> None:
    """An empty-string ref is still echoed back."""
    assert rules.error_event(ChatError("x"), ref="")["ref"] == ""


def test_history_page_fits_one_websocket_message() -> None:
    """A page of long multibyte messages drops its oldest ones to stay under the limit."""
    messages = [
        rules.Message("abcdefghjk", f"{i:016x}", "u" + "0" * 20, "Ann", "é" * 2000, f"t{i:03d}")
        for i in range(50)
    ]
    event = rules.history_event("abcdefghjk", messages, None, more=False)
    size = len(json.dumps(event, ensure_ascii=False).encode())
    assert size <= rules.POST_BUDGET_BYTES + 1024
    assert event["more"] is True
    assert event["messages"][-1]["messageId"] == messages[-1].message_id
    assert event["cursor"] == messages[50 - len(event["messages"])].sort_key


# --- the room list ------------------------------------------------------------------


def test_room_list_most_recent_activity_first_with_preview() -> None:
    """Rooms come newest activity first: their last entry, else when the user joined."""

    def membership(room_id: str, requested_at: str, status: Status = Status.APPROVED) -> Member:
        return Member(
            room_id=room_id,
            user_id=USER_ID,
            name="Ann",
            role=Role.MEMBER,
            status=status,
            requested_at=requested_at,
            room_name=room_id.upper(),
        )

    quiet = membership("aaaaaaaaaa", "2026-01-03T00:00:00.000Z")
    busy = membership("bbbbbbbbbb", "2026-01-01T00:00:00.000Z")
    waiting = membership("cccccccccc", "2026-01-02T00:00:00.000Z", Status.PENDING)
    last = make_message(room_id="bbbbbbbbbb", sent_at="2026-01-04T00:00:00.000Z")
    rooms = rules.room_list([quiet, busy, waiting], {"bbbbbbbbbb": last})
    assert [r["roomId"] for r in rooms] == ["bbbbbbbbbb", "aaaaaaaaaa", "cccccccccc"]
    assert rooms[0]["lastMessage"]["text"] == "hello"
    assert rooms[0]["activityAt"] == "2026-01-04T00:00:00.000Z"
    assert (rooms[2]["lastMessage"], rooms[2]["status"]) == (None, "pending")


def test_room_info_counts_approved_members() -> None:
    """What an invitee learns: the room's name and how many members it has."""
    members = [
        make_member(ADMIN_ID, role=Role.ADMIN),
        make_member(),
        make_member("u" + "1" * 20, status=Status.PENDING),
    ]
    assert rules.room_info_event(make_room(), members) == {
        "type": "roomInfo",
        "roomId": ROOM_ID,
        "name": "Lobby",
        "memberCount": 2,
    }
