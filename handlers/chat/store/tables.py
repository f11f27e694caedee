"""The store's foundations: the tables' client, item keys and conversions, conditions,
and the parts of transactions that several kinds of change share."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from chat import config
from chat.errors import ChatError
from chat.rules import Kind, Member, Message, Role, Room, Status

ROOM_SK = "ROOM"
MEMBER_PREFIX = "MEMBER#"
USER_PREFIX = "user#"  # the rooms table's per-user counters
USER_SK = "USER"
RATE_PREFIX = "rate#"  # the connections table's rate counters
MESSAGE_IDS_PREFIX = "ids#"  # the partition that maps a room's message ids to entries
OPEN = "attribute_exists(connectionId) AND attribute_not_exists(closedAt)"
# Standard retries (with backoff, on throttling and 5xx), as AWS recommends for DynamoDB.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
CONFLICT_RETRIES = 6  # a transaction cancelled by a concurrent one is tried again
# A membership's condition that ``:sk`` sorts after the member's last entry in the room.
AFTER_LAST_ENTRY = "(attribute_not_exists(lastEntry) OR lastEntry < :sk)"

log = logging.getLogger(__name__)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    name: str
    connected_at: str
    closed: bool = False  # closed since; requests it sent before are still served


class Conflict(Exception):
    """A write's condition failed because what it was checked against changed since it
    was read (a concurrent edit, a member's newer entry): read again and decide again.
    Never reaches a client; the caller retries or turns it into a domain error."""


def cancellations(exc: ClientError) -> list[str]:
    """Each item's reason a transaction was cancelled (``"None"`` for the innocent)."""
    return [r.get("Code") or "None" for r in exc.response.get("CancellationReasons") or []]


def failed_items(exc: ClientError) -> set[int]:
    """Which items of a cancelled transaction failed their condition (by position)."""
    return {i for i, code in enumerate(cancellations(exc)) if code == "ConditionalCheckFailed"}


def is_condition_failure(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = exc.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "ConditionalCheckFailed" for r in reasons
    )


@contextmanager
def condition_or(error: ChatError) -> Iterator[None]:
    """Turn a failed write condition into the client's ``error``; others pass through."""
    try:
        yield
    except ClientError as exc:
        if is_condition_failure(exc):
            raise error from exc
        raise


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def member_sk(user_id: str) -> str:
    return MEMBER_PREFIX + user_id


def to_member(item: Mapping[str, Any]) -> Member:
    return Member(
        room_id=item["roomId"],
        user_id=item["userId"],
        name=item["name"],
        role=Role(item["role"]),
        status=Status(item["status"]),
        requested_at=item["requestedAt"],
        room_name=item.get("roomName", ""),
        connections=frozenset(item.get("connections") or ()),
        last_entry=item.get("lastEntry"),
    )


def to_message(item: Mapping[str, Any]) -> Message:
    return Message(
        room_id=item["roomId"],
        message_id=item["messageId"],
        user_id=item["userId"],
        name=item["name"],
        text=item.get("text", ""),
        sent_at=item["sentAt"],
        kind=Kind(item.get("kind", Kind.TEXT.value)),
        edited_at=item.get("editedAt"),
        deleted_at=item.get("deletedAt"),
        undelivered=bool(item.get("undelivered")),
        version=int(item.get("version", 1)),  # entries stored before versions are 1
    )


def to_room(item: Mapping[str, Any]) -> Room:
    return Room(
        room_id=item["roomId"],
        name=item["name"],
        admin_id=item["adminId"],
        created_at=item["createdAt"],
        version=int(item.get("version", 0)),
    )


def to_connection(item: Mapping[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connectionId"],
        user_id=item["userId"],
        name=item["name"],
        connected_at=item["connectedAt"],
        closed="closedAt" in item,
    )


class Tables:
    """The client and the three tables' names; what every part of the store builds on."""

    def __init__(
        self,
        settings: config.Settings,
        client: Any = None,
        pause: Any = time.sleep,
    ) -> None:
        self._client = client or boto3.client("dynamodb", config=CLIENT_CONFIG)
        self._connections = settings.connections_table
        self._rooms = settings.rooms_table
        self._messages = settings.messages_table
        self._limits = settings.limits
        self._pause = pause

    def room_change(
        self,
        room_id: str,
        pending: int = 0,
        most: int | None = None,
        admin_id: str | None = None,
        new_admin: str | None = None,
    ) -> dict[str, Any]:
        """The room item's part in a change of its member list: the version goes up;
        the count of waiting requests by ``pending`` (up to ``most``); on condition
        that ``admin_id`` is the admin, who becomes ``new_admin``."""
        update = "ADD version :one"
        condition = "attribute_exists(roomId)"
        values: dict[str, Any] = {":one": 1}
        if pending:
            update += ", pending :p"
            values[":p"] = pending
        if most is not None:
            condition += " AND (attribute_not_exists(pending) OR pending < :most)"
            values[":most"] = most
        if admin_id is not None:
            condition += " AND adminId = :admin"
            values[":admin"] = admin_id
        if new_admin is not None:
            update += " SET adminId = :new"
            values[":new"] = new_admin
        return {
            "Update": {
                "TableName": self._rooms,
                "Key": to_item({"roomId": room_id, "sk": ROOM_SK}),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def user_pending(self, user_id: str, change: int, most: int | None = None) -> dict[str, Any]:
        """The user's count of requests waiting in any room, changed by ``change``."""
        update: dict[str, Any] = {
            "TableName": self._rooms,
            "Key": to_item({"roomId": USER_PREFIX + user_id, "sk": USER_SK}),
            "UpdateExpression": "ADD pending :p",
            "ExpressionAttributeValues": to_item({":p": change}),
        }
        if most is not None:
            update["ConditionExpression"] = "attribute_not_exists(pending) OR pending < :most"
            update["ExpressionAttributeValues"] = to_item({":p": change, ":most": most})
        return {"Update": update}

    def entry_writes(self, message: Message, undelivered: bool = False) -> list[dict[str, Any]]:
        """A transaction's Puts of a conversation entry (a message or a notice) and of its
        id, each on condition that it is new: one id space per room, whatever wrote it."""
        return [self.id_put(message), self.entry_put(message, undelivered)]

    def id_put(self, message: Message) -> dict[str, Any]:
        """The Put that claims an entry's id in its room, pointing at the entry."""
        return {
            "Put": {
                "TableName": self._messages,
                "Item": to_item(
                    {
                        "roomId": MESSAGE_IDS_PREFIX + message.room_id,
                        "sk": message.message_id,
                        "entry": message.sort_key,
                        "userId": message.user_id,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def entry_put(self, message: Message, undelivered: bool = False) -> dict[str, Any]:
        """The Put of a conversation entry itself."""
        return {
            "Put": {
                "TableName": self._messages,
                "Item": to_item(
                    {
                        "roomId": message.room_id,
                        "sk": message.sort_key,
                        "messageId": message.message_id,
                        "userId": message.user_id,
                        "name": message.name,
                        "text": message.text,
                        "sentAt": message.sent_at,
                        "kind": message.kind.value,
                        "version": message.version,
                        "undelivered": True if undelivered else None,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def sent_by(self, entry: Message) -> dict[str, Any]:
        """A transaction's Update of the membership of a message's author: on condition
        that they are an approved member and that the message sorts after their previous
        entry in the room, it becomes their last. So a message is stored only while its
        author is a member, and an author's entries stand in the order they were written."""
        return {
            "Update": {
                "TableName": self._rooms,
                "Key": to_item({"roomId": entry.room_id, "sk": member_sk(entry.user_id)}),
                "UpdateExpression": "SET lastEntry = :sk",
                "ConditionExpression": f"#s = :approved AND {AFTER_LAST_ENTRY}",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_item(
                    {":sk": entry.sort_key, ":approved": Status.APPROVED.value}
                ),
            }
        }

    def approved_check(self, room_id: str, user_id: str) -> dict[str, Any]:
        """A transaction's check that a user is an approved member of the room."""
        return {
            "ConditionCheck": {
                "TableName": self._rooms,
                "Key": to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                "ConditionExpression": "#s = :approved",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_item({":approved": Status.APPROVED.value}),
            }
        }

    def transact(self, items: list[dict[str, Any]]) -> None:
        """One transaction; tried again when only a concurrent transaction on the same
        items cancelled it (DynamoDB's ``TransactionConflict``), as AWS advises."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = cancellations(exc)
                conflict = "TransactionConflict" in reasons and "ConditionalCheckFailed" not in (
                    reasons
                )
                if not conflict or attempt == CONFLICT_RETRIES - 1:
                    raise
                log.info("transaction conflict; trying again")
                self._pause(0.01 * 2**attempt)

    def member_item(self, member: Member) -> dict[str, Any]:
        return to_item(
            {
                "roomId": member.room_id,
                "sk": member_sk(member.user_id),
                "userId": member.user_id,
                "name": member.name,
                "role": member.role.value,
                "status": member.status.value,
                "requestedAt": member.requested_at,
                "roomName": member.room_name,
                # DynamoDB has no empty sets: an offline member has no attribute.
                "connections": set(member.connections) or None,
            }
        )

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("query").paginate(**kwargs):
            for item in page["Items"]:
                yield plain(item)
