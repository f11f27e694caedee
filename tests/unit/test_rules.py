"""Unit tests of ``chat.rules``: validation, identity, permissions and client views."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chat import rules
from chat.errors import (
    AdminCannotLeave,
    AlreadyMember,
    AlreadyPending,
    ChatError,
    InvalidJson,
    InvalidPayload,
    MessageNotFound,
    NoPendingRequest,
    NoSuchMember,
    NotAdmin,
    NotAuthor,
    NotMember,
)
from chat.rules import Kind, Member, Message, Role, Room, Status

KEY = "0123456789abcdef" * 2
OTHER_KEY = "fedcba9876543210" * 2
ROOM_ID = "abcdefghjk"
USER_ID = "u" + "0" * 20
ADMIN_ID = "u" + "a" * 20


def make_member(
    user_id: str = USER_ID,
    name: str = "Ann",
    *,
    role: Role = Role.MEMBER,
    status: Status = Status.APPROVED,
    connections: frozenset[str] = frozenset(),
) -> Member:
    """A member of ROOM_ID with the given fields."""
    return Member(
        room_id=ROOM_ID,
        user_id=user_id,
        name=name,
        role=role,
        status=status,
        requested_at="2026-01-01T00:00:00Z",
        connections=connections,
    )


def make_room(admin_id: str = ADMIN_ID) -> Room:
    """A room with the given admin."""
    return Room(room_id=ROOM_ID, name="Lobby", admin_id=admin_id, created_at="2026-01-01T00:00:00Z")


def invalid_field(call: Callable[[], object]) -> InvalidPayload:
    """Run ``call`` and return the InvalidPayload it raises."""
    with pytest.raises(InvalidPayload) as info:
        call()
    return info.value


# --- parse_connect -------------------------------------------------------------


def test_parse_connect_valid_identity() -> None:
    """A valid key and name give the key's user id and the stripped name."""
    identity = rules.parse_connect({"key": KEY, "name": "  Ann  "})
    assert identity == rules.Identity(user_id=rules.user_id_for_key(KEY), name="Ann")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"name": "Ann"}, id="missing"),
        pytest.param({"key": "", "name": "Ann"}, id="empty"),
        pytest.param({"key": KEY[:-1], "name": "Ann"}, id="short"),
        pytest.param({"key": KEY + "0", "name": "Ann"}, id="long"),
        pytest.param({"key": KEY.upper(), "name": "Ann"}, id="uppercase"),
        pytest.param({"key": "g" * 32, "name": "Ann"}, id="non-hex"),
        pytest.param({"key": 12345, "name": "Ann"}, id="not-a-string"),
    ],
)
def test_parse_connect_rejects_bad_key(query: dict[str, Any]) -> None:
    """A key that is not 32 lowercase hex digits is an InvalidPayload on field "key"."""
    assert invalid_field(lambda: rules.parse_connect(query)).details["field"] == "key"


@pytest.mark.parametrize("query", [None, {}])
def test_parse_connect_rejects_no_query(query: dict[str, str] | None) -> None:
    """No query string at all is reported as a bad key."""
    assert invalid_field(lambda: rules.parse_connect(query)).details["field"] == "key"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("   \t ", id="blank"),
        pytest.param("x" * (rules.NAME_MAX + 1), id="too-long"),
        pytest.param("Ann\nBob", id="newline"),
        pytest.param("Ann\tBob", id="tab"),
        pytest.param("Ann\x00", id="nul"),
        pytest.param("Ann\x1b[31m", id="escape"),
        pytest.param("Ann\x7f", id="delete"),
    ],
)
def test_parse_connect_rejects_bad_name(name: str | None) -> None:
    """A missing, blank, over-long or control-character name is an InvalidPayload on "name"."""
    query = {"key": KEY} if name is None else {"key": KEY, "name": name}
    assert invalid_field(lambda: rules.parse_connect(query)).details["field"] == "name"


def test_parse_connect_accepts_name_at_limit() -> None:
    """A name of exactly NAME_MAX characters is accepted."""
    name = "x" * rules.NAME_MAX
    assert rules.parse_connect({"key": KEY, "name": name}).name == name


def test_parse_connect_over_long_name_reports_limit() -> None:
    """An over-long name's error carries the limit."""
    error = invalid_field(
        lambda: rules.parse_connect({"key": KEY, "name": "x" * (rules.NAME_MAX + 1)})
    )
    assert error.details == {"field": "name", "limit": rules.NAME_MAX}


# --- user_id_for_key -----------------------------------------------------------


def test_user_id_for_key_is_stable() -> None:
    """The same key always gives the same user id."""
    assert rules.user_id_for_key(KEY) == rules.user_id_for_key(KEY)


def test_user_id_for_key_differs_per_key() -> None:
    """Different keys give different user ids."""
    assert rules.user_id_for_key(KEY) != rules.user_id_for_key(OTHER_KEY)


@pytest.mark.parametrize("key", [KEY, OTHER_KEY, "0" * 32])
def test_user_id_for_key_matches_pattern(key: str) -> None:
    """A user id matches USER_ID_PATTERN."""
    assert rules.USER_ID_PATTERN.match(rules.user_id_for_key(key))


@pytest.mark.parametrize("key", [KEY, OTHER_KEY])
def test_user_id_for_key_hides_key(key: str) -> None:
    """A user id contains neither the key nor a large piece of it."""
    user_id = rules.user_id_for_key(key)
    assert key not in user_id
    assert key[:16] not in user_id
    assert key[16:] not in user_id


# --- parse_body / parse_ref ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("{not json", id="invalid"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('"createRoom"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("null", id="null"),
    ],
)
def test_parse_body_rejects_non_object(body: str | None) -> None:
    """A body that is not a JSON object is InvalidJson listing the valid actions."""
    with pytest.raises(InvalidJson) as info:
        rules.parse_body(body)
    assert info.value.details == {"validActions": list(rules.ACTIONS)}


def test_parse_body_returns_object() -> None:
    """A JSON object body is returned as a dict."""
    assert rules.parse_body('{"action": "listRooms", "n": 1}') == {"action": "listRooms", "n": 1}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"ref": None}, None, id="null"),
        pytest.param({"ref": "r1"}, "r1", id="short"),
        pytest.param({"ref": ""}, "", id="empty"),
        pytest.param({"ref": "x" * rules.REF_MAX}, "x" * rules.REF_MAX, id="at-limit"),
    ],
)
def test_parse_ref_accepts(payload: dict[str, Any], expected: str | None) -> None:
    """An absent or null ref is None; a string up to REF_MAX is returned unchanged."""
    assert rules.parse_ref(payload) == expected


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("x" * (rules.REF_MAX + 1), id="too-long"),
        pytest.param(7, id="number"),
        pytest.param(["r"], id="list"),
    ],
)
def test_parse_ref_rejects(ref: object) -> None:
    """A non-string or over-long ref is an InvalidPayload on field "ref"."""
    assert invalid_field(lambda: rules.parse_ref({"ref": ref})).details["field"] == "ref"


# --- parse_create_room -----------------------------------------------------------


def test_parse_create_room_strips_name() -> None:
    """A room name is stripped of surrounding whitespace."""
    assert rules.parse_create_room({"name": "  Lobby \n"}) == rules.CreateRoom(name="Lobby")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="missing"),
        pytest.param({"name": 5}, id="not-a-string"),
        pytest.param({"name": "  "}, id="blank"),
        pytest.param({"name": "x" * (rules.ROOM_NAME_MAX + 1)}, id="too-long"),
        pytest.param({"name": "Lob\nby"}, id="newline"),
    ],
)
def test_parse_create_room_rejects(payload: dict[str, Any]) -> None:
    """A missing, non-string, blank, over-long or multi-line room name is rejected."""
    assert invalid_field(lambda: rules.parse_create_room(payload)).details["field"] == "name"


def test_parse_create_room_accepts_name_at_limit() -> None:
    """A room name of exactly ROOM_NAME_MAX characters is accepted."""
    name = "x" * rules.ROOM_NAME_MAX
    assert rules.parse_create_room({"name": name}).name == name


# --- parse_join_room -------------------------------------------------------------


def test_parse_join_room_defaults_to_request() -> None:
    """Without an op, a join is a request with no target user."""
    assert rules.parse_join_room({"roomId": ROOM_ID}) == rules.JoinRoom(
        op="request", room_id=ROOM_ID, user_id=None
    )


def test_parse_join_room_request_ignores_user_id() -> None:
    """A request does not take a userId, even if one is sent."""
    join = rules.parse_join_room({"op": "request", "roomId": ROOM_ID, "userId": USER_ID})
    assert join.user_id is None


@pytest.mark.parametrize("op", ["approve", "reject"])
def test_parse_join_room_decision_with_user_id(op: str) -> None:
    """Approve and reject carry the requester's userId."""
    join = rules.parse_join_room({"op": op, "roomId": ROOM_ID, "userId": USER_ID})
    assert join == rules.JoinRoom(op=op, room_id=ROOM_ID, user_id=USER_ID)


@pytest.mark.parametrize("op", ["approve", "reject"])
@pytest.mark.parametrize(
    "user_id",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("u" + "0" * 19, id="short"),
        pytest.param("x" + "0" * 20, id="wrong-prefix"),
        pytest.param("u" + "A" * 20, id="uppercase"),
        pytest.param(123, id="number"),
    ],
)
def test_parse_join_room_decision_needs_valid_user_id(op: str, user_id: object) -> None:
    """Approve and reject without a valid userId are an InvalidPayload on "userId"."""
    payload: dict[str, Any] = {"op": op, "roomId": ROOM_ID}
    if user_id is not None:
        payload["userId"] = user_id
    assert invalid_field(lambda: rules.parse_join_room(payload)).details["field"] == "userId"


@pytest.mark.parametrize("op", ["accept", "REQUEST", "", None, 1])
def test_parse_join_room_rejects_bad_op(op: object) -> None:
    """An op other than request, approve or reject is an InvalidPayload on "op"."""
    error = invalid_field(lambda: rules.parse_join_room({"op": op, "roomId": ROOM_ID}))
    assert error.details["field"] == "op"


@pytest.mark.parametrize(
    "room_id",
    [
        pytest.param(None, id="missing"),
        pytest.param("abcdefghj", id="short"),
        pytest.param("abcdefghjkm", id="long"),
        pytest.param("abcdefghj0", id="ambiguous-char"),
        pytest.param("ABCDEFGHJK", id="uppercase"),
        pytest.param(1234567890, id="number"),
    ],
)
def test_parse_join_room_rejects_bad_room_id(room_id: object) -> None:
    """A join without a valid roomId is an InvalidPayload on "roomId"."""
    payload = {} if room_id is None else {"roomId": room_id}
    assert invalid_field(lambda: rules.parse_join_room(payload)).details["field"] == "roomId"


# --- parse_send_message ----------------------------------------------------------


def test_parse_send_message_accepts_text_at_limit() -> None:
    """A text of exactly TEXT_MAX characters is accepted."""
    text = "x" * rules.TEXT_MAX
    assert rules.parse_send_message({"roomId": ROOM_ID, "text": text}) == rules.SendMessage(
        room_id=ROOM_ID, text=text
    )


def test_parse_send_message_rejects_text_over_limit() -> None:
    """A text of TEXT_MAX + 1 characters is rejected with the limit in the details."""
    payload = {"roomId": ROOM_ID, "text": "x" * (rules.TEXT_MAX + 1)}
    error = invalid_field(lambda: rules.parse_send_message(payload))
    assert error.details == {"field": "text", "limit": rules.TEXT_MAX}


def test_parse_send_message_limit_applies_after_strip() -> None:
    """Surrounding whitespace does not count towards the text limit."""
    text = "  " + "x" * rules.TEXT_MAX + "\n\n"
    message = rules.parse_send_message({"roomId": ROOM_ID, "text": text})
    assert message.text == "x" * rules.TEXT_MAX


def test_parse_send_message_allows_newlines_and_tabs() -> None:
    """A message text may span lines and contain tabs."""
    text = "line one\nline two\n\tindented"
    assert rules.parse_send_message({"roomId": ROOM_ID, "text": text}).text == text


def test_parse_send_message_strips_whitespace() -> None:
    """Whitespace around a message text is stripped."""
    message = rules.parse_send_message({"roomId": ROOM_ID, "text": "\n  hello  \t\n"})
    assert message.text == "hello"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="missing"),
        pytest.param(" \n\t ", id="blank"),
        pytest.param(["hi"], id="list"),
        pytest.param("hi\x00", id="nul"),
        pytest.param("hi\rthere", id="carriage-return"),
        pytest.param("hi\x1b[2J", id="escape"),
    ],
)
def test_parse_send_message_rejects_bad_text(text: object) -> None:
    """A missing, blank, non-string or control-character text is an InvalidPayload on "text"."""
    payload: dict[str, Any] = {"roomId": ROOM_ID}
    if text is not None:
        payload["text"] = text
    assert invalid_field(lambda: rules.parse_send_message(payload)).details["field"] == "text"


def test_parse_send_message_rejects_bad_room_id() -> None:
    """A message to an invalid roomId is an InvalidPayload on "roomId"."""
    error = invalid_field(lambda: rules.parse_send_message({"roomId": "nope", "text": "hi"}))
    assert error.details["field"] == "roomId"


# --- parse_room_ref --------------------------------------------------------------


def test_parse_room_ref_accepts_room_id() -> None:
    """A valid roomId gives a RoomRef."""
    assert rules.parse_room_ref({"roomId": ROOM_ID}) == rules.RoomRef(room_id=ROOM_ID)


@pytest.mark.parametrize("payload", [{}, {"roomId": ""}, {"roomId": "abcdefghjl"}])
def test_parse_room_ref_rejects_bad_room_id(payload: dict[str, Any]) -> None:
    """A missing or malformed roomId is an InvalidPayload on "roomId"."""
    assert invalid_field(lambda: rules.parse_room_ref(payload)).details["field"] == "roomId"


# --- ids -------------------------------------------------------------------------


def test_new_room_id_is_deterministic_with_injected_token() -> None:
    """The same token bytes always give the same room id."""

    def token(n: int) -> bytes:
        return bytes(range(n))

    assert rules.new_room_id(token) == rules.new_room_id(token)
    assert rules.new_room_id(token) == rules.ROOM_ID_ALPHABET[: rules.ROOM_ID_LENGTH]


@pytest.mark.parametrize("fill", [0, 1, 30, 31, 127, 255])
def test_new_room_id_matches_pattern(fill: int) -> None:
    """Any token bytes give an id that matches ROOM_ID_PATTERN."""
    room_id = rules.new_room_id(lambda n: bytes([fill]) * n)
    assert rules.ROOM_ID_PATTERN.match(room_id)


def test_new_room_id_asks_for_room_id_length_bytes() -> None:
    """new_room_id draws exactly ROOM_ID_LENGTH bytes from the token function."""
    asked: list[int] = []

    def token(n: int) -> bytes:
        asked.append(n)
        return bytes(n)

    rules.new_room_id(token)
    assert asked == [rules.ROOM_ID_LENGTH]


def test_new_room_id_default_matches_pattern() -> None:
    """The default random room id matches ROOM_ID_PATTERN."""
    assert rules.ROOM_ID_PATTERN.match(rules.new_room_id())


# --- permissions -----------------------------------------------------------------


def test_require_approved_returns_member() -> None:
    """An approved member is returned."""
    member = make_member(status=Status.APPROVED)
    assert rules.require_approved([make_member(ADMIN_ID), member], USER_ID) is member


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED])
def test_require_approved_rejects_unapproved(status: Status) -> None:
    """Pending and rejected users are not members."""
    with pytest.raises(NotMember):
        rules.require_approved([make_member(status=status)], USER_ID)


def test_require_approved_rejects_absent() -> None:
    """A user with no membership is not a member."""
    with pytest.raises(NotMember):
        rules.require_approved([make_member(ADMIN_ID)], USER_ID)


def test_require_admin_allows_admin() -> None:
    """The room's admin passes require_admin."""
    rules.require_admin(make_room(ADMIN_ID), ADMIN_ID)


def test_require_admin_rejects_others() -> None:
    """Anyone but the room's admin is NotAdmin."""
    with pytest.raises(NotAdmin):
        rules.require_admin(make_room(ADMIN_ID), USER_ID)


@pytest.mark.parametrize("existing", [None, make_member(status=Status.REJECTED)])
def test_check_join_request_allows(existing: Member | None) -> None:
    """A new or previously rejected user may ask to join."""
    rules.check_join_request(existing)


def test_check_join_request_rejects_approved() -> None:
    """An approved member asking to join is AlreadyMember."""
    with pytest.raises(AlreadyMember):
        rules.check_join_request(make_member(status=Status.APPROVED))


def test_check_join_request_rejects_pending() -> None:
    """A user already waiting is AlreadyPending."""
    with pytest.raises(AlreadyPending):
        rules.check_join_request(make_member(status=Status.PENDING))


def test_check_decision_returns_pending() -> None:
    """A pending request can be decided; the member is returned."""
    member = make_member(status=Status.PENDING)
    assert rules.check_decision(member) is member


@pytest.mark.parametrize(
    "target", [None, make_member(status=Status.APPROVED), make_member(status=Status.REJECTED)]
)
def test_check_decision_rejects_non_pending(target: Member | None) -> None:
    """Deciding on a user without a pending request is NoPendingRequest."""
    with pytest.raises(NoPendingRequest):
        rules.check_decision(target)


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


@pytest.mark.parametrize("field", ["text", "name", "ref", "roomId", "anything"])
def test_a_lone_surrogate_in_any_field_is_invalid_payload(field: str) -> None:
    """JSON's \\ud800 escape decodes to a lone surrogate that no reply could carry:
    the field is refused, whichever it is."""
    payload = rules.parse_body(json.dumps({"action": "sendMessage", field: "a\ud800b"}))
    check = rules.parse_ref if field == "ref" else rules.check_encodable
    with pytest.raises(InvalidPayload) as refused:
        check(payload)
    assert refused.value.details["field"] == field


@pytest.mark.parametrize(
    "name",
    ["\u3164", "\u3164\u3164\u3164", "\u115f\u1160", "\uffa0 \u2800", "\u0301\u0301", " \u3164 "],
)
def test_names_of_invisible_fillers_are_refused(name: str) -> None:
    """Hangul fillers, a blank Braille cell or accents alone draw nothing: not a name."""
    refused = invalid_field(lambda: rules.parse_connect({"name": name, "key": KEY}))
    assert refused.details["field"] == "name"
    refused = invalid_field(lambda: rules.parse_create_room({"name": name}))
    assert refused.details["field"] == "name"


def test_fillers_around_a_name_are_trimmed_like_spaces() -> None:
    """A filler at either end is trimmed; one inside a name that has letters stays."""
    assert rules.parse_connect({"name": "\u3164Ann\u3164", "key": KEY}).name == "Ann"
    assert rules.parse_connect({"name": "A\u3164B", "key": KEY}).name == "A\u3164B"


def test_json_nested_too_deeply_is_invalid_json() -> None:
    """A 2 KB frame of 100,000 nested arrays is refused, not a RecursionError."""
    with pytest.raises(InvalidJson):
        rules.parse_body("[" * 100_000 + "]" * 100_000)
    deep = rules.parse_body('{"action": "x", "a": ' + "[" * 900 + "]" * 900 + "}")
    rules.check_encodable(deep)  # deep, but within what the parser took: fine


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


def test_new_room_id_redraws_bytes_that_would_bias_it() -> None:
    """Bytes at or above the last whole multiple of the alphabet size are drawn again."""
    draws = iter([bytes([255, 0] * 5), bytes(range(10))])
    room_id = rules.new_room_id(lambda n: next(draws))
    alphabet = rules.ROOM_ID_ALPHABET
    assert room_id == alphabet[0] * 5 + alphabet[:5]


def test_crlf_in_messages_becomes_lf() -> None:
    """Text pasted with Windows line ends is accepted, with plain newlines."""
    command = rules.parse_send_message({"roomId": "abcdefghjk", "text": "one\r\ntwo"})
    assert command.text == "one\ntwo"


@pytest.mark.parametrize(
    ("name", "ok"),
    [("👨\u200d👩\u200d👧", True), ("evil\u202etxt.exe", False), ("zero\u200bwidth", False)],
)
def test_names_allow_emoji_joiners_but_not_disguises(name: str, ok: bool) -> None:
    """The zero-width joiner of emoji is fine; bidi overrides and zero-width spaces are not."""
    payload = {"name": name, "key": "a" * 32}
    if ok:
        assert rules.parse_connect(payload).name == name
    else:
        with pytest.raises(InvalidPayload):
            rules.parse_connect(payload)


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


# --- messages: ids, authors, edits ---------------------------------------------

MESSAGE_ID = "0123456789abcdef"


def make_message(user_id: str = USER_ID, **fields: Any) -> Message:
    """A message in ROOM_ID by ``user_id``."""
    values: dict[str, Any] = {
        "room_id": ROOM_ID,
        "message_id": MESSAGE_ID,
        "user_id": user_id,
        "name": "Ann",
        "text": "hello",
        "sent_at": "2026-01-01T00:00:01.000Z",
    }
    values.update(fields)
    return Message(**values)


def test_parse_send_message_takes_the_clients_id() -> None:
    """A client-generated messageId is kept; without one the server picks an id later."""
    parsed = rules.parse_send_message({"roomId": ROOM_ID, "text": "hi", "messageId": MESSAGE_ID})
    assert parsed.message_id == MESSAGE_ID
    assert rules.parse_send_message({"roomId": ROOM_ID, "text": "hi"}).message_id is None


@pytest.mark.parametrize("message_id", ["", "0123", "0123456789ABCDEF", "g" * 16, 7, True])
def test_parse_send_message_rejects_bad_message_id(message_id: object) -> None:
    """A messageId that isn't 16 lowercase hex digits is refused, naming the field."""
    payload = {"roomId": ROOM_ID, "text": "hi", "messageId": message_id}
    assert invalid_field(lambda: rules.parse_send_message(payload)).details["field"] == "messageId"


def test_parse_edit_message_needs_id_and_text() -> None:
    """editMessage checks roomId, then messageId, then the text with sendMessage's rules."""
    parsed = rules.parse_edit_message({"roomId": ROOM_ID, "messageId": MESSAGE_ID, "text": " x "})
    assert parsed == rules.EditMessage(room_id=ROOM_ID, message_id=MESSAGE_ID, text="x")
    missing_id = invalid_field(lambda: rules.parse_edit_message({"roomId": ROOM_ID, "text": "x"}))
    assert missing_id.details["field"] == "messageId"
    too_long = invalid_field(
        lambda: rules.parse_edit_message(
            {"roomId": ROOM_ID, "messageId": MESSAGE_ID, "text": "x" * (rules.TEXT_MAX + 1)}
        )
    )
    assert too_long.details == {"field": "text", "limit": rules.TEXT_MAX}


def test_parse_member_ref_needs_a_user_id() -> None:
    """removeMember and transferAdmin name a user by id."""
    assert rules.parse_member_ref({"roomId": ROOM_ID, "userId": USER_ID}) == rules.MemberRef(
        ROOM_ID, USER_ID
    )
    error = invalid_field(lambda: rules.parse_member_ref({"roomId": ROOM_ID, "userId": "Ann"}))
    assert error.details["field"] == "userId"


def test_check_author_allows_the_author_only() -> None:
    """Only the author may change a message; a deleted or missing one is not found."""
    message = make_message()
    assert rules.check_author(message, USER_ID) is message
    with pytest.raises(NotAuthor):
        rules.check_author(message, ADMIN_ID)
    with pytest.raises(MessageNotFound):
        rules.check_author(None, USER_ID)
    with pytest.raises(MessageNotFound):
        rules.check_author(make_message(deleted_at="2026-01-01T00:00:02.000Z"), USER_ID)


def test_check_author_refuses_notices() -> None:
    """A notice of who joined is nobody's message, not even the joiner's."""
    with pytest.raises(NotAuthor):
        rules.check_author(make_message(kind=Kind.JOINED, text=""), USER_ID)


def test_check_repeat_accepts_own_repeat_refuses_others_id() -> None:
    """A repeated id is the caller's own message again, or an id taken by someone else."""
    original = make_message()
    assert rules.check_repeat(original, USER_ID) is original
    for other in (None, make_message(user_id=ADMIN_ID)):
        with pytest.raises(InvalidPayload) as info:
            rules.check_repeat(other, USER_ID)
        assert info.value.details["field"] == "messageId"


def test_message_view_of_edited_and_deleted() -> None:
    """Edits carry editedAt; a deleted message keeps its place but loses its text."""
    edited = rules.message_view(make_message(edited_at="2026-01-01T00:00:02.000Z"))
    assert (edited["text"], edited["editedAt"]) == ("hello", "2026-01-01T00:00:02.000Z")
    deleted = rules.message_view(make_message(deleted_at="2026-01-01T00:00:03.000Z"))
    assert (deleted["text"], deleted["deletedAt"]) == ("", "2026-01-01T00:00:03.000Z")
    assert "editedAt" not in deleted


def test_notice_names_the_member_it_is_about() -> None:
    """A notice is an entry of the given kind about the member, with no text."""
    entry = rules.notice(Kind.LEFT, make_member(name="Bo"), MESSAGE_ID, "2026-01-01T00:00:04.000Z")
    assert rules.message_view(entry) == {
        "roomId": ROOM_ID,
        "messageId": MESSAGE_ID,
        "userId": USER_ID,
        "name": "Bo",
        "text": "",
        "sentAt": "2026-01-01T00:00:04.000Z",
        "kind": "left",
        "version": 1,
    }


# --- the admin's powers ------------------------------------------------------------


def test_check_removal() -> None:
    """The admin removes approved members; not pending ones, strangers or themselves."""
    admin = make_member(ADMIN_ID, "Ada", role=Role.ADMIN)
    member = make_member()
    pending = make_member("u" + "1" * 20, status=Status.PENDING)
    members = [admin, member, pending]
    assert rules.check_removal(make_room(), members, ADMIN_ID, USER_ID) is member
    with pytest.raises(NotAdmin):
        rules.check_removal(make_room(), members, USER_ID, ADMIN_ID)
    for target in (pending.user_id, "u" + "2" * 20):
        with pytest.raises(NoSuchMember):
            rules.check_removal(make_room(), members, ADMIN_ID, target)
    with pytest.raises(AdminCannotLeave):
        rules.check_removal(make_room(), members, ADMIN_ID, ADMIN_ID)


def test_check_transfer() -> None:
    """The admin hands the room to an approved member, not to a requester or to themselves."""
    admin = make_member(ADMIN_ID, "Ada", role=Role.ADMIN)
    member = make_member()
    pending = make_member("u" + "1" * 20, status=Status.PENDING)
    members = [admin, member, pending]
    assert rules.check_transfer(make_room(), members, ADMIN_ID, USER_ID) is member
    with pytest.raises(NotAdmin):
        rules.check_transfer(make_room(), members, USER_ID, USER_ID)
    with pytest.raises(NoSuchMember):
        rules.check_transfer(make_room(), members, ADMIN_ID, pending.user_id)
    assert invalid_field(
        lambda: rules.check_transfer(make_room(), members, ADMIN_ID, ADMIN_ID)
    ).details == {"field": "userId"}


def test_check_leave_lets_a_rejected_user_drop_the_room() -> None:
    """A rejected user may leave, which removes the room from their list."""
    rejected = make_member(status=Status.REJECTED)
    assert rules.check_leave(rejected) is rejected
    with pytest.raises(NotMember):
        rules.check_leave(None)


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


# --- order, versions, renames, pings --------------------------------------------------


DAY = "2026-01-01T00:00:"


@pytest.mark.parametrize(
    ("now", "after", "expected"),
    [
        (DAY + "05.000Z", None, DAY + "05.000Z"),
        (DAY + "05.000Z", DAY + "04.999Z#00ff00ff00ff00ff", DAY + "05.000Z"),
        # The same millisecond: one later, whatever the ids would say.
        (DAY + "05.000Z", DAY + "05.000Z#0000000000000000", DAY + "05.001Z"),
        # This instance's clock is behind the one that wrote the previous entry.
        (DAY + "04.000Z", DAY + "05.250Z#ffffffffffffffff", DAY + "05.251Z"),
        # Across a day and a year.
        ("2026-12-31T23:59:59.000Z", "2026-12-31T23:59:59.999Z#ffffffffffffffff",
         "2027-01-01T00:00:00.000Z"),
    ],
)  # fmt: skip
def test_entry_time_sorts_after_the_members_previous_entry(
    now: str, after: str | None, expected: str
) -> None:
    """A member's next entry is stamped now, or just after their previous one if the
    clock says otherwise: their entries sort in the order they were written."""
    sent_at = rules.entry_time(now, after)
    assert sent_at == expected
    if after is not None:
        assert f"{sent_at}#0000000000000000" > after
        assert rules.CURSOR_PATTERN.fullmatch(f"{sent_at}#0000000000000000")


def test_parse_rename_checks_the_name_as_connect_does() -> None:
    """A new name is trimmed and refused for the same reasons as a name at $connect."""
    assert rules.parse_rename({"name": "  Bea  "}).name == "Bea"
    for name in (None, "", "   ", "x" * (rules.NAME_MAX + 1), "a\u202eb", 7, "\u3164"):
        error = invalid_field(lambda name=name: rules.parse_rename({"name": name}))
        assert error.details["field"] == "name"
        with pytest.raises(InvalidPayload) as at_connect:
            rules.parse_connect({"key": KEY, "name": name})  # type: ignore[dict-item]
        assert at_connect.value.message == error.message


def test_ping_and_rename_are_actions() -> None:
    """ping and rename are routes, listed among the valid actions."""
    assert {"ping", "rename"} <= set(rules.ACTIONS)
    assert (rules.PING, rules.RENAME) == ("ping", "rename")


def test_a_notices_id_is_not_the_callers_to_repeat() -> None:
    """A sendMessage with a notice's id (even a notice about the caller) is refused as a
    taken id: one id space per room."""
    joined = make_message(kind=Kind.JOINED, text="")
    with pytest.raises(InvalidPayload) as info:
        rules.check_repeat(joined, USER_ID)
    assert info.value.details["field"] == "messageId"


def test_message_view_carries_the_stored_version() -> None:
    """An edited or deleted message shows the version it has reached."""
    assert rules.message_view(make_message(version=3))["version"] == 3
    assert rules.message_view(make_message())["version"] == 1
