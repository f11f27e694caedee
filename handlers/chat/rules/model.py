"""What the chat is made of: users, rooms, memberships and the conversation's entries.

Plain frozen data; the one piece of logic here is the order of a room's entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Kind(StrEnum):
    """What an entry of the conversation is: a member's text, or a change of membership."""

    TEXT = "text"
    JOINED = "joined"  # the user was approved
    LEFT = "left"  # the user left
    REMOVED = "removed"  # the admin removed the user
    ADMIN = "admin"  # the user was handed the room


@dataclass(frozen=True)
class Identity:
    """Who is on a connection: a stable id derived from their secret key, and a name."""

    user_id: str
    name: str


@dataclass(frozen=True)
class Room:
    room_id: str
    name: str
    admin_id: str
    created_at: str
    # Counts every change of the member list (membership, role, name, presence): a
    # ``members`` event carries it so that clients keep the newest list they got.
    version: int = 0


@dataclass(frozen=True)
class Member:
    room_id: str
    user_id: str
    name: str
    role: Role
    status: Status
    requested_at: str
    room_name: str = ""
    connections: frozenset[str] = frozenset()
    # The sort key of the newest entry by or about this member in the room (their last
    # message, or the notice of their leaving): the next one must sort after it.
    last_entry: str | None = None

    @property
    def online(self) -> bool:
        return bool(self.connections)


@dataclass(frozen=True)
class Message:
    """An entry of a room's conversation. ``user_id`` is the author, or for a notice
    (any kind but text) the member it is about; notices have empty text."""

    room_id: str
    message_id: str
    user_id: str
    name: str
    text: str
    sent_at: str
    kind: Kind = Kind.TEXT
    edited_at: str | None = None
    deleted_at: str | None = None
    # Stored, but its delivery to the room has not finished (or its sender died in it).
    undelivered: bool = False
    # 1 when stored, one more at each edit or delete: clients keep the highest they see.
    version: int = 1

    @property
    def sort_key(self) -> str:
        """Orders a room's messages by time; the id breaks ties."""
        return f"{self.sent_at}#{self.message_id}"


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TICK = timedelta(milliseconds=1)


def entry_time(now: str, after: str | None) -> str:
    """The time stamp for a member's next entry: ``now``, unless that doesn't come
    strictly after ``after`` (the sort key of their previous entry in the room), when it
    is one millisecond past that entry's time. Clocks of different function instances
    disagree and concurrent invocations interleave; a member's entries must still stand
    in the order they were written.
    """
    if after is None:
        return now
    previous = after.split("#", 1)[0]
    if now > previous:
        return now
    later = datetime.strptime(previous, TIME_FORMAT) + _TICK
    return later.strftime(TIME_FORMAT)[:-4] + "Z"  # milliseconds, as app.now() writes
