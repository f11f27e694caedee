"""Unit tests of ``chat.rules``: messages and notices, their order and versions."""

from __future__ import annotations

import pytest

from chat import rules
from chat.errors import (
    InvalidPayload,
    MessageNotFound,
    NotAuthor,
)
from chat.rules import Kind
from tests.unit.rules_helpers import (
    ADMIN_ID,
    KEY,
    MESSAGE_ID,
    ROOM_ID,
    USER_ID,
    invalid_field,
    make_member,
    make_message,
)

# --- messages: ids, authors, edits ---------------------------------------------


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
