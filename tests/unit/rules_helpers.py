"""Shared makings of the ``chat.rules`` unit tests: a member, a room, a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chat.errors import InvalidPayload
from chat.rules import Member, Message, Role, Room, Status

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
