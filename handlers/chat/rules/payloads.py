"""The requests clients send: the actions, and each one's payload parsed and checked.

Every ``parse_*`` takes the decoded JSON object and returns a small command, or raises
:class:`~chat.errors.InvalidPayload` naming the field that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chat.errors import InvalidJson, InvalidPayload
from chat.rules.ids import (
    KEY_LENGTH,
    KEY_PATTERN,
    MESSAGE_ID_PATTERN,
    ROOM_ID_LENGTH,
    ROOM_ID_PATTERN,
    USER_ID_PATTERN,
    user_id_for_key,
)
from chat.rules.model import Identity
from chat.rules.text import ROOM_NAME_MAX, TEXT_MAX, display_name, encodable, text_field

REF_MAX = 64

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
PING = "ping"
RENAME = "rename"
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
    PING,
    RENAME,
)
HISTORY_PAGE_MAX = 50
CURSOR_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{16}$")

JOIN_OPS = ("request", "approve", "reject")


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
class Rename:
    name: str


@dataclass(frozen=True)
class GetHistory:
    room_id: str
    before: str | None  # cursor of the oldest message already seen; None for the newest
    limit: int


def parse_connect(query: Mapping[str, str] | None) -> Identity:
    """Validate ``$connect``'s query string: ``name`` and the 128-bit hex ``key``."""
    query = query or {}
    key = query.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise InvalidPayload(
            f"key must be {KEY_LENGTH} lowercase hex digits (a random 128-bit value)",
            field="key",
        )
    return Identity(user_id=user_id_for_key(key), name=display_name(query))


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
                field=field if encodable(field) else "",
            ) from None
        except RecursionError:
            raise InvalidPayload(f"{field!a} is nested too deeply", field=field) from None


def parse_ref(payload: Mapping[str, Any]) -> str | None:
    """The optional ``ref`` a client attaches to match a reply to its request."""
    ref = payload.get("ref")
    if ref is None:
        return None
    if not isinstance(ref, str) or len(ref) > REF_MAX or not encodable(ref):
        raise InvalidPayload(f"ref must be a string of at most {REF_MAX} characters", field="ref")
    return ref


def parse_create_room(payload: Mapping[str, Any]) -> CreateRoom:
    return CreateRoom(name=text_field(payload, "name", ROOM_NAME_MAX, multiline=False))


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
        text=text_field(payload, "text", TEXT_MAX, multiline=True),
        message_id=message_id,
    )


def parse_edit_message(payload: Mapping[str, Any]) -> EditMessage:
    room_id = _room_id(payload)
    message_id = _message_id(payload)
    return EditMessage(
        room_id=room_id,
        message_id=message_id,
        text=text_field(payload, "text", TEXT_MAX, multiline=True),
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


def parse_rename(payload: Mapping[str, Any]) -> Rename:
    """A new display name, checked as the name at ``$connect`` is."""
    return Rename(name=display_name(payload))


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
