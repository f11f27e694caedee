"""The chat's rules: validation, identity, permissions and the views clients see.

Pure: no I/O, no clock, no randomness of its own (callers pass them in). Every
function takes data and returns data, or raises a :mod:`chat.errors` exception.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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

NAME_MAX = 32
ROOM_NAME_MAX = 64
TEXT_MAX = 2000
REF_MAX = 64
KEY_LENGTH = 32  # hex digits: 128 bits
ROOM_ID_LENGTH = 10
ROOM_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i

KEY_PATTERN = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}$")
ROOM_ID_PATTERN = re.compile(rf"^[{ROOM_ID_ALPHABET}]{{{ROOM_ID_LENGTH}}}$")
USER_ID_PATTERN = re.compile(r"^u[0-9a-f]{20}$")
MESSAGE_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")

# The actions clients may send, each a route of the WebSocket API.
CREATE_ROOM = "createRoom"
JOIN_ROOM = "joinRoom"
SEND_MESSAGE = "sendMessage"
GET_MEMBERS = "getMembers"
LIST_ROOMS = "listRooms"
GET_HISTORY = "getHistory"
LEAVE_ROOM = "leaveRoom"
TYPING = "typing"
EDIT_MESSAGE = "editMessage"
DELETE_MESSAGE = "deleteMessage"
REMOVE_MEMBER = "removeMember"
TRANSFER_ADMIN = "transferAdmin"
GET_ROOM = "getRoom"
ACTIONS = (
    CREATE_ROOM,
    JOIN_ROOM,
    SEND_MESSAGE,
    GET_MEMBERS,
    LIST_ROOMS,
    GET_HISTORY,
    LEAVE_ROOM,
    TYPING,
    EDIT_MESSAGE,
    DELETE_MESSAGE,
    REMOVE_MEMBER,
    TRANSFER_ADMIN,
    GET_ROOM,
)
HISTORY_PAGE_MAX = 50
CURSOR_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{16}$")

JOIN_OPS = ("request", "approve", "reject")


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

    @property
    def sort_key(self) -> str:
        """Orders a room's messages by time; the id breaks ties."""
        return f"{self.sent_at}#{self.message_id}"


@dataclass(frozen=True)
class CreateRoom:
    name: str


@dataclass(frozen=True)
class JoinRoom:
    op: str
    room_id: str
    user_id: str | None  # whose request an admin decides; None for "request"


@dataclass(frozen=True)
class SendMessage:
    room_id: str
    text: str
    message_id: str | None = None  # the client's id for the message; None: the server picks one


@dataclass(frozen=True)
class EditMessage:
    room_id: str
    message_id: str
    text: str


@dataclass(frozen=True)
class MessageRef:
    room_id: str
    message_id: str


@dataclass(frozen=True)
class MemberRef:
    room_id: str
    user_id: str


@dataclass(frozen=True)
class RoomRef:
    room_id: str


@dataclass(frozen=True)
class GetHistory:
    room_id: str
    before: str | None  # cursor of the oldest message already seen; None for the newest
    limit: int


# --- identity ----------------------------------------------------------------


def user_id_for_key(key: str) -> str:
    """The stable user id bound to a secret key; the key can't be recovered from it."""
    return "u" + hashlib.sha256(f"chat-user:{key}".encode()).hexdigest()[:20]


def parse_connect(query: Mapping[str, str] | None) -> Identity:
    """Validate ``$connect``'s query string: ``name`` and the 128-bit hex ``key``."""
    query = query or {}
    key = query.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise InvalidPayload(
            f"key must be {KEY_LENGTH} lowercase hex digits (a random 128-bit value)",
            field="key",
        )
    name = _text(query, "name", NAME_MAX, multiline=False)
    return Identity(user_id=user_id_for_key(key), name=name)


# --- payloads ----------------------------------------------------------------


def parse_body(body: str | None) -> dict[str, Any]:
    """A frame's body as a JSON object, or :class:`InvalidJson`."""
    try:
        payload = json.loads(body or "")
    except (TypeError, ValueError) as exc:
        raise InvalidJson("the message is not valid JSON", validActions=list(ACTIONS)) from exc
    except RecursionError as exc:  # nested deeper than the parser's stack allows
        raise InvalidJson("the message is nested too deeply", validActions=list(ACTIONS)) from exc
    if not isinstance(payload, dict):
        raise InvalidJson(
            "the message must be a JSON object with an action", validActions=list(ACTIONS)
        )
    return payload


def check_encodable(payload: Mapping[str, Any]) -> None:
    """Every field must be text that UTF-8 can carry back: JSON's ``\\ud800`` escapes
    decode to lone surrogates, which no reply or table could hold."""
    for field, value in payload.items():
        try:
            json.dumps({field: value}, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise InvalidPayload(
                f"{field!a} holds a lone surrogate (an unpaired \\ud800-\\udfff escape)",
                field=field if _encodable(field) else "",
            ) from None
        except RecursionError:
            raise InvalidPayload(f"{field!a} is nested too deeply", field=field) from None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_ref(payload: Mapping[str, Any]) -> str | None:
    """The optional ``ref`` a client attaches to match a reply to its request."""
    ref = payload.get("ref")
    if ref is None:
        return None
    if not isinstance(ref, str) or len(ref) > REF_MAX or not _encodable(ref):
        raise InvalidPayload(f"ref must be a string of at most {REF_MAX} characters", field="ref")
    return ref


def parse_create_room(payload: Mapping[str, Any]) -> CreateRoom:
    return CreateRoom(name=_text(payload, "name", ROOM_NAME_MAX, multiline=False))


def parse_join_room(payload: Mapping[str, Any]) -> JoinRoom:
    op = payload.get("op", "request")
    if op not in JOIN_OPS:
        raise InvalidPayload(f"op must be one of {', '.join(JOIN_OPS)}", field="op")
    room_id = _room_id(payload)
    user_id = None
    if op != "request":
        user_id = payload.get("userId")
        if not isinstance(user_id, str) or not USER_ID_PATTERN.fullmatch(user_id):
            raise InvalidPayload(f"{op} needs the userId of the requester", field="userId")
    return JoinRoom(op=op, room_id=room_id, user_id=user_id)


def parse_send_message(payload: Mapping[str, Any]) -> SendMessage:
    room_id = _room_id(payload)
    message_id = None if payload.get("messageId") is None else _message_id(payload)
    return SendMessage(
        room_id=room_id,
        text=_text(payload, "text", TEXT_MAX, multiline=True),
        message_id=message_id,
    )


def parse_edit_message(payload: Mapping[str, Any]) -> EditMessage:
    room_id = _room_id(payload)
    message_id = _message_id(payload)
    return EditMessage(
        room_id=room_id,
        message_id=message_id,
        text=_text(payload, "text", TEXT_MAX, multiline=True),
    )


def parse_message_ref(payload: Mapping[str, Any]) -> MessageRef:
    room_id = _room_id(payload)
    return MessageRef(room_id=room_id, message_id=_message_id(payload))


def parse_member_ref(payload: Mapping[str, Any]) -> MemberRef:
    room_id = _room_id(payload)
    user_id = payload.get("userId")
    if not isinstance(user_id, str) or not USER_ID_PATTERN.fullmatch(user_id):
        raise InvalidPayload("userId must be the id of a member of the room", field="userId")
    return MemberRef(room_id=room_id, user_id=user_id)


def parse_room_ref(payload: Mapping[str, Any]) -> RoomRef:
    return RoomRef(room_id=_room_id(payload))


def parse_get_history(payload: Mapping[str, Any]) -> GetHistory:
    before = payload.get("before")
    if before is not None and (not isinstance(before, str) or not CURSOR_PATTERN.fullmatch(before)):
        raise InvalidPayload(
            "before must be a cursor from an earlier history reply", field="before"
        )
    limit = payload.get("limit", HISTORY_PAGE_MAX)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= HISTORY_PAGE_MAX:
        raise InvalidPayload(
            f"limit must be a whole number from 1 to {HISTORY_PAGE_MAX}", field="limit"
        )
    return GetHistory(room_id=_room_id(payload), before=before, limit=limit)


def _room_id(payload: Mapping[str, Any]) -> str:
    room_id = payload.get("roomId")
    if not isinstance(room_id, str) or not ROOM_ID_PATTERN.fullmatch(room_id):
        raise InvalidPayload(
            f"roomId must be the {ROOM_ID_LENGTH}-character id of a room", field="roomId"
        )
    return room_id


def _message_id(payload: Mapping[str, Any]) -> str:
    message_id = payload.get("messageId")
    if not isinstance(message_id, str) or not MESSAGE_ID_PATTERN.fullmatch(message_id):
        raise InvalidPayload(
            "messageId must be 16 lowercase hex digits (a random 64-bit value)", field="messageId"
        )
    return message_id


def _text(payload: Mapping[str, Any], field: str, max_length: int, *, multiline: bool) -> str:
    value = payload.get(field)
    if value is None:
        raise InvalidPayload(f"{field} is required", field=field)
    if not isinstance(value, str):
        raise InvalidPayload(f"{field} must be a string", field=field)
    if not _encodable(value):
        raise InvalidPayload(f"{field} must not contain lone surrogates", field=field)
    value = _trim(value.replace("\r\n", "\n"))
    if not value:
        raise InvalidPayload(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidPayload(
            f"{field} is {len(value)} characters; the limit is {max_length}",
            field=field,
            limit=max_length,
        )
    if any(_forbidden(ch, multiline) for ch in value):
        raise InvalidPayload(f"{field} must not contain control characters", field=field)
    if not any(_visible(ch) for ch in value):
        raise InvalidPayload(f"{field} must have a visible character", field=field)
    return value


# Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern,
# Khmer's inherent vowels. Unicode counts them as letters, so they'd pass for a name.
INVISIBLE_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
_NOT_DRAWN = frozenset({"Cc", "Cf", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


def _trim(value: str) -> str:
    """Strip white space and invisible fillers from both ends."""
    start, end = 0, len(value)
    while start < end and (value[start].isspace() or value[start] in INVISIBLE_FILLERS):
        start += 1
    while end > start and (value[end - 1].isspace() or value[end - 1] in INVISIBLE_FILLERS):
        end -= 1
    return value[start:end]


def _visible(ch: str) -> bool:
    """Whether the character draws something by itself (a combining accent alone doesn't)."""
    return ch not in INVISIBLE_FILLERS and unicodedata.category(ch) not in _NOT_DRAWN


ZERO_WIDTH_JOINER = "\u200d"  # format character, but part of emoji like 👨‍👩‍👧


def _forbidden(ch: str, multiline: bool) -> bool:
    """Control characters; in one-line text also line breaks and invisible formatting
    (bidi overrides and the like) that could disguise a name."""
    category = unicodedata.category(ch)
    if multiline:
        return category == "Cc" and ch not in "\n\t"
    return category in ("Cc", "Zl", "Zp") or (category == "Cf" and ch != ZERO_WIDTH_JOINER)


# --- ids ---------------------------------------------------------------------


def new_room_id(token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """Random id over the alphabet; bytes past the last whole multiple are redrawn."""
    size = len(ROOM_ID_ALPHABET)
    usable = 256 - 256 % size
    chars: list[str] = []
    for _ in range(8):
        chars.extend(ROOM_ID_ALPHABET[b % size] for b in token(ROOM_ID_LENGTH) if b < usable)
        if len(chars) >= ROOM_ID_LENGTH:
            return "".join(chars[:ROOM_ID_LENGTH])
    # Only a source stuck on the top byte values gets here; stay total all the same.
    chars.extend(ROOM_ID_ALPHABET[b % size] for b in token(ROOM_ID_LENGTH))
    return "".join(chars[:ROOM_ID_LENGTH])


def new_message_id(token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    return token(8).hex()


# --- permissions ---------------------------------------------------------------


def find_member(members: Iterable[Member], user_id: str) -> Member | None:
    return next((m for m in members if m.user_id == user_id), None)


def require_approved(members: Iterable[Member], user_id: str) -> Member:
    """The caller's membership, if approved; pending and rejected users are not members."""
    member = find_member(members, user_id)
    if member is None or member.status is not Status.APPROVED:
        raise NotMember("you are not a member of this room")
    return member


def require_admin(room: Room, user_id: str, what: str = "approve or reject requests") -> None:
    if room.admin_id != user_id:
        raise NotAdmin(f"only the room's admin can {what}")


def check_join_request(existing: Member | None) -> None:
    """A user may ask to join unless already a member or already waiting."""
    if existing is None or existing.status is Status.REJECTED:
        return
    if existing.status is Status.APPROVED:
        raise AlreadyMember("you are already a member of this room")
    raise AlreadyPending("your request to join is waiting for the admin")


def check_leave(member: Member | None) -> Member:
    """Members and requesters may leave, and a rejected user may drop the room from
    their list; the admin owns the room and stays until they hand it over."""
    if member is None:
        raise NotMember("you are not in this room")
    if member.role is Role.ADMIN:
        raise AdminCannotLeave("the admin can't leave their own room; hand it over first")
    return member


def check_removal(room: Room, members: Iterable[Member], caller_id: str, user_id: str) -> Member:
    """The admin may remove an approved member other than themselves."""
    require_admin(room, caller_id, "remove members")
    target = _approved_target(members, user_id)
    if target.role is Role.ADMIN:
        raise AdminCannotLeave("the admin can't be removed; hand the room over first")
    return target


def check_transfer(room: Room, members: Iterable[Member], caller_id: str, user_id: str) -> Member:
    """The admin may hand the room to another approved member."""
    require_admin(room, caller_id, "hand the room over")
    target = _approved_target(members, user_id)
    if target.user_id == caller_id:
        raise InvalidPayload("you are already the room's admin", field="userId")
    return target


def _approved_target(members: Iterable[Member], user_id: str) -> Member:
    target = find_member(members, user_id)
    if target is None or target.status is not Status.APPROVED:
        raise NoSuchMember("that user is not a member of this room")
    return target


def check_author(message: Message | None, user_id: str) -> Message:
    """A message its author may still edit or delete."""
    if message is None or message.deleted_at is not None:
        raise MessageNotFound("there is no such message in this room")
    if message.kind is not Kind.TEXT or message.user_id != user_id:
        raise NotAuthor("you can only edit or delete your own messages")
    return message


def check_repeat(original: Message | None, user_id: str) -> Message:
    """A ``sendMessage`` whose id is already stored: a repeat of the caller's own message
    (a retry after a lost reply, a double press), or an id another message holds."""
    if original is None or original.user_id != user_id or original.kind is not Kind.TEXT:
        raise InvalidPayload(
            "messageId is taken by another message; pick a new random id", field="messageId"
        )
    return original


def notice(kind: Kind, member: Member, message_id: str, sent_at: str) -> Message:
    """The conversation's record of a change of membership (joined, left, ...)."""
    return Message(
        room_id=member.room_id,
        message_id=message_id,
        user_id=member.user_id,
        name=member.name,
        text="",
        sent_at=sent_at,
        kind=kind,
    )


def check_decision(target: Member | None) -> Member:
    if target is None or target.status is not Status.PENDING:
        raise NoPendingRequest("that user has no pending request in this room")
    return target


def recipients(members: Iterable[Member], exclude: Iterable[str] = ()) -> list[str]:
    """Connections of the approved members: who receives the room's events."""
    skip = set(exclude)
    return sorted(
        cid
        for m in members
        if m.status is Status.APPROVED
        for cid in m.connections
        if cid not in skip
    )


def is_listed(member: Member) -> bool:
    """Whether the member appears in the room's member list (so their presence matters)."""
    return member.status in (Status.APPROVED, Status.PENDING)


def visible_members(members: Iterable[Member]) -> list[Member]:
    """Approved and pending members, admin first, then approved, then pending, by name."""
    order = {Status.APPROVED: 1, Status.PENDING: 2}
    shown = [m for m in members if is_listed(m)]
    return sorted(
        shown,
        key=lambda m: (0 if m.role is Role.ADMIN else order[m.status], m.name.lower(), m.user_id),
    )


# --- what clients see ----------------------------------------------------------


def member_view(member: Member) -> dict[str, Any]:
    return {
        "userId": member.user_id,
        "name": member.name,
        "role": member.role.value,
        "status": member.status.value,
        "online": member.online,
    }


def room_view(room: Room, member: Member | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "roomId": room.room_id,
        "name": room.name,
        "adminId": room.admin_id,
        "createdAt": room.created_at,
    }
    if member is not None:
        view["role"] = member.role.value
        view["status"] = member.status.value
    return view


def message_view(message: Message) -> dict[str, Any]:
    view: dict[str, Any] = {
        "roomId": message.room_id,
        "messageId": message.message_id,
        "userId": message.user_id,
        "name": message.name,
        "text": "" if message.deleted_at is not None else message.text,
        "sentAt": message.sent_at,
        "kind": message.kind.value,
    }
    if message.edited_at is not None:
        view["editedAt"] = message.edited_at
    if message.deleted_at is not None:
        view["deletedAt"] = message.deleted_at
    return view


def room_list(
    memberships: Iterable[Member], last_messages: Mapping[str, Message]
) -> list[dict[str, Any]]:
    """The caller's rooms for ``rooms``, the most recently active first.

    A room's activity is its newest entry, or when it has none (or the caller
    can't read it) the time the caller created or asked to join it.
    """
    entries: list[dict[str, Any]] = []
    for member in memberships:
        last = last_messages.get(member.room_id)
        entries.append(
            {
                "roomId": member.room_id,
                "name": member.room_name,
                "role": member.role.value,
                "status": member.status.value,
                "lastMessage": message_view(last) if last is not None else None,
                "activityAt": max(member.requested_at, last.sent_at if last else ""),
            }
        )
    entries.sort(key=lambda e: e["roomId"])
    entries.sort(key=lambda e: e["activityAt"], reverse=True)
    return entries


def room_info_event(room: Room, members: Iterable[Member]) -> dict[str, Any]:
    """What someone holding a room's id may learn before asking to join."""
    approved = sum(1 for m in members if m.status is Status.APPROVED)
    return {"type": "roomInfo", "roomId": room.room_id, "name": room.name, "memberCount": approved}


POST_BUDGET_BYTES = 120 * 1024  # under API Gateway's 128 KB per message, with room to spare


def members_events(
    room: Room, members: Iterable[Member], budget: int = POST_BUDGET_BYTES
) -> list[dict[str, Any]]:
    """The room's member list as ``members`` events: one, or as many parts as it takes
    for each to fit in one WebSocket message. Every part carries the room's ``version``
    (clients keep the newest list) and ``part``/``parts`` (clients wait for them all)."""
    pages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for view in map(member_view, visible_members(members)):
        entry = len(json.dumps(view, ensure_ascii=False).encode()) + 1
        if pages[-1] and size + entry > budget:
            pages.append([])
            size = 0
        pages[-1].append(view)
        size += entry
    return [
        {
            "type": "members",
            "roomId": room.room_id,
            "version": room.version,
            "part": number,
            "parts": len(pages),
            "members": page,
        }
        for number, page in enumerate(pages, start=1)
    ]


def history_event(
    room_id: str, messages: list[Message], before: str | None, more: bool
) -> dict[str, Any]:
    """A page of history, oldest first; ``cursor`` asks for the page before it.

    A page that would not fit in one WebSocket message drops its oldest messages
    (which the next page then returns) rather than failing to arrive at all.
    """
    messages = list(messages)
    views = [message_view(m) for m in messages]
    size = sum(len(json.dumps(v, ensure_ascii=False).encode()) + 1 for v in views)
    while size > POST_BUDGET_BYTES and len(messages) > 1:
        size -= len(json.dumps(views.pop(0), ensure_ascii=False).encode()) + 1
        messages.pop(0)
        more = True
    return {
        "type": "history",
        "roomId": room_id,
        "messages": [message_view(m) for m in messages],
        "before": before,
        "cursor": messages[0].sort_key if messages else None,
        "more": more,
    }


def error_event(error: ChatError, ref: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = dict(error.details)
    event.update(type="error", code=error.code, message=error.message)
    if ref is not None:
        event["ref"] = ref
    return event
