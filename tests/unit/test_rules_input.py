"""Unit tests of ``chat.rules``: what a connection or a frame may carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import rules
from chat.errors import (
    InvalidJson,
    InvalidPayload,
)
from tests.unit.rules_helpers import (
    KEY,
    ROOM_ID,
    USER_ID,
    invalid_field,
)

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


# --- anything a frame carries: encodable, visible, not too deep -----------------


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
