"""All DynamoDB access: three tables, no scans, every state change conditional.

Tables (names from :mod:`chat.config`):

- connections: ``connectionId`` → ``userId``, ``name``, ``connectedAt``, ``expiresAt`` (TTL),
  ``subscribed`` once the client has sent ``listRooms``; index ``byUser`` (userId) finds
  a user's connections (several tabs).
- rooms: ``roomId`` + ``sk``. ``sk = "ROOM"`` holds the room (name, adminId, createdAt);
  ``sk = "MEMBER#<userId>"`` holds a membership (name, role, status, requestedAt and
  ``roomName`` and ``connections``, the string set of the member's open connection ids, so that a
  broadcast needs one Query). Index ``byUser`` (userId, roomId) lists a user's rooms.
- messages: ``roomId`` + ``sk = "<sentAt>#<messageId>"`` holds an entry of the
  conversation (text, kind, editedAt, deletedAt). Beside each room's partition,
  ``roomId = "ids#<roomId>"`` + ``sk = <messageId>`` maps a message id to its entry's
  ``sk``: written in one transaction with the entry, on condition that the id is
  new, it makes ``sendMessage`` idempotent and lets an edit find its message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chat import config
from chat.errors import (
    AlreadyPending,
    ChatError,
    MessageNotFound,
    NoPendingRequest,
    NoSuchMember,
    NotConnected,
    NotMember,
    RoomNotFound,
)
from chat.rules import Identity, Kind, Member, Message, Role, Room, Status

ROOM_SK = "ROOM"
MEMBER_PREFIX = "MEMBER#"
MESSAGE_IDS_PREFIX = "ids#"  # the partition that maps a room's message ids to entries

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    name: str
    connected_at: str


def _is_condition_failure(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = exc.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "ConditionalCheckFailed" for r in reasons
    )


@contextmanager
def _condition_or(error: ChatError) -> Iterator[None]:
    """Turn a failed write condition into the client's ``error``; others pass through."""
    try:
        yield
    except ClientError as exc:
        if _is_condition_failure(exc):
            raise error from exc
        raise


def _item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _member_sk(user_id: str) -> str:
    return MEMBER_PREFIX + user_id


def _member(item: Mapping[str, Any]) -> Member:
    return Member(
        room_id=item["roomId"],
        user_id=item["userId"],
        name=item["name"],
        role=Role(item["role"]),
        status=Status(item["status"]),
        requested_at=item["requestedAt"],
        room_name=item.get("roomName", ""),
        connections=frozenset(item.get("connections") or ()),
    )


def _message(item: Mapping[str, Any]) -> Message:
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
    )


def _room(item: Mapping[str, Any]) -> Room:
    return Room(
        room_id=item["roomId"],
        name=item["name"],
        admin_id=item["adminId"],
        created_at=item["createdAt"],
    )


class Store:
    """The chat's tables. Pass a client to share one or to point at an emulator."""

    def __init__(self, settings: config.Settings, client: Any = None) -> None:
        self._client = client or boto3.client("dynamodb")
        self._connections = settings.connections_table
        self._rooms = settings.rooms_table
        self._messages = settings.messages_table

    # --- connections ---------------------------------------------------------

    def put_connection(
        self, connection_id: str, identity: Identity, connected_at: str, expires_at: int
    ) -> None:
        self._client.put_item(
            TableName=self._connections,
            Item=_item(
                {
                    "connectionId": connection_id,
                    "userId": identity.user_id,
                    "name": identity.name,
                    "connectedAt": connected_at,
                    "expiresAt": expires_at,
                }
            ),
            ConditionExpression="attribute_not_exists(connectionId)",
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        reply = self._client.get_item(
            TableName=self._connections,
            Key=_item({"connectionId": connection_id}),
            ConsistentRead=True,
        )
        if "Item" not in reply:
            return None
        item = _plain(reply["Item"])
        return Connection(
            connection_id=item["connectionId"],
            user_id=item["userId"],
            name=item["name"],
            connected_at=item["connectedAt"],
        )

    def subscribe(self, connection_id: str) -> None:
        """Mark a connection as open for fan-out (it has spoken since ``$connect``)."""
        with _condition_or(NotConnected("this connection is not registered; reconnect")):
            self._client.update_item(
                TableName=self._connections,
                Key=_item({"connectionId": connection_id}),
                UpdateExpression="SET subscribed = :t",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeValues=_item({":t": True}),
            )

    def user_connections(self, user_id: str) -> frozenset[str]:
        """A user's subscribed connections (other tabs), through the ``byUser`` index."""
        return frozenset(
            item["connectionId"]
            for item in self._query(
                TableName=self._connections,
                IndexName=config.CONNECTIONS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                FilterExpression="subscribed = :t",
                ExpressionAttributeValues=_item({":u": user_id, ":t": True}),
            )
        )

    def delete_connection(self, connection_id: str) -> None:
        self._client.delete_item(
            TableName=self._connections, Key=_item({"connectionId": connection_id})
        )

    # --- rooms and members ---------------------------------------------------

    def create_room(self, room: Room, admin: Member) -> None:
        """Write the room and its admin together; fails if the id is taken."""
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._rooms,
                        "Item": _item(
                            {
                                "roomId": room.room_id,
                                "sk": ROOM_SK,
                                "name": room.name,
                                "adminId": room.admin_id,
                                "createdAt": room.created_at,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(roomId)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._rooms,
                        "Item": self._member_item(admin),
                        "ConditionExpression": "attribute_not_exists(roomId)",
                    }
                },
            ]
        )

    def load_room(self, room_id: str) -> tuple[Room, list[Member]]:
        """The room and all its memberships, in one Query."""
        room: Room | None = None
        members: list[Member] = []
        for item in self._query(
            TableName=self._rooms,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues=_item({":r": room_id}),
            ConsistentRead=True,
        ):
            if item["sk"] == ROOM_SK:
                room = _room(item)
            elif item["sk"].startswith(MEMBER_PREFIX):
                members.append(_member(item))
        if room is None:
            raise RoomNotFound(f"no room with id {room_id}", roomId=room_id)
        return room, members

    def memberships(self, user_id: str) -> list[Member]:
        """Every membership of a user (any status), through the ``byUser`` index."""
        return [
            _member(item)
            for item in self._query(
                TableName=self._rooms,
                IndexName=config.ROOMS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                ExpressionAttributeValues=_item({":u": user_id}),
            )
        ]

    def request_join(self, member: Member) -> None:
        """Record a pending request, unless one is pending or the user is a member."""
        with _condition_or(AlreadyPending("your request to join is already waiting")):
            self._client.put_item(
                TableName=self._rooms,
                Item=self._member_item(member),
                ConditionExpression="attribute_not_exists(roomId) OR #s = :rejected",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_item({":rejected": Status.REJECTED.value}),
            )

    def decide(
        self, room_id: str, user_id: str, status: Status, notice: Message | None = None
    ) -> Member:
        """Approve or reject a pending request; only a pending one can change.

        With a ``notice`` (the conversation's "joined"), the decision and the notice
        are written in one transaction.
        """
        update = {
            "TableName": self._rooms,
            "Key": _item({"roomId": room_id, "sk": _member_sk(user_id)}),
            "UpdateExpression": "SET #s = :new",
            "ConditionExpression": "#s = :pending",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": _item(
                {":new": status.value, ":pending": Status.PENDING.value}
            ),
        }
        with _condition_or(NoPendingRequest("that user has no pending request in this room")):
            if notice is None:
                reply = self._client.update_item(**update, ReturnValues="ALL_NEW")
                return _member(_plain(reply["Attributes"]))
            self._client.transact_write_items(
                TransactItems=[{"Update": update}, self._entry_put(notice)]
            )
        decided = self.member(room_id, user_id)
        if decided is None:  # left again in the instant since; the decision stands
            raise NoPendingRequest("that user has no pending request in this room")
        return decided

    def member(self, room_id: str, user_id: str) -> Member | None:
        reply = self._client.get_item(
            TableName=self._rooms,
            Key=_item({"roomId": room_id, "sk": _member_sk(user_id)}),
            ConsistentRead=True,
        )
        return _member(_plain(reply["Item"])) if "Item" in reply else None

    def attach(self, room_id: str, user_id: str, connection_id: str, name: str) -> None:
        """Add an open connection to a membership (and refresh the display name)."""
        try:
            self._client.update_item(
                TableName=self._rooms,
                Key=_item({"roomId": room_id, "sk": _member_sk(user_id)}),
                UpdateExpression="ADD connections :c SET #n = :n",
                ConditionExpression="attribute_exists(roomId)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=_item({":c": {connection_id}, ":n": name}),
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # The membership went away meanwhile: nothing to attach to.

    def detach(self, room_id: str, user_id: str, connection_id: str) -> Member | None:
        """Remove a connection from a membership; returns the membership after it."""
        try:
            reply = self._client.update_item(
                TableName=self._rooms,
                Key=_item({"roomId": room_id, "sk": _member_sk(user_id)}),
                UpdateExpression="DELETE connections :c",
                ConditionExpression="attribute_exists(roomId)",
                ExpressionAttributeValues=_item({":c": {connection_id}}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return _member(_plain(reply["Attributes"]))

    # --- messages --------------------------------------------------------------

    def add_message(self, message: Message) -> bool:
        """Store a member's message and its id together, unless the id is already taken.

        Returns False, having written nothing, when a message with this id exists in
        the room: a repeat of a send whose reply was lost, or a double press.
        """
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._messages,
                            "Item": _item(
                                {
                                    "roomId": MESSAGE_IDS_PREFIX + message.room_id,
                                    "sk": message.message_id,
                                    "entry": message.sort_key,
                                    "userId": message.user_id,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    self._entry_put(message),
                ]
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def message(self, room_id: str, message_id: str) -> Message | None:
        """A member's message by its id: two GetItems (the id, then the entry)."""
        ids = self._client.get_item(
            TableName=self._messages,
            Key=_item({"roomId": MESSAGE_IDS_PREFIX + room_id, "sk": message_id}),
            ConsistentRead=True,
        )
        if "Item" not in ids:
            return None
        entry = _plain(ids["Item"])["entry"]
        reply = self._client.get_item(
            TableName=self._messages,
            Key=_item({"roomId": room_id, "sk": entry}),
            ConsistentRead=True,
        )
        return _message(_plain(reply["Item"])) if "Item" in reply else None

    def edit_message(self, message: Message, text: str, edited_at: str) -> Message:
        """Replace a message's text; the stored item must be its author's, not deleted."""
        return self._change_message(
            message, "SET #t = :text, editedAt = :at", {":text": text, ":at": edited_at}
        )

    def delete_message(self, message: Message, deleted_at: str) -> Message:
        """Blank a message, leaving a marker in its place; the same condition as editing."""
        return self._change_message(message, "SET deletedAt = :at REMOVE #t", {":at": deleted_at})

    def _change_message(self, message: Message, update: str, values: Mapping[str, Any]) -> Message:
        # The author check is the write's own condition, not only the rules' check before
        # it: nobody but the author can change the stored item, whatever raced.
        with _condition_or(MessageNotFound("there is no such message in this room")):
            reply = self._client.update_item(
                TableName=self._messages,
                Key=_item({"roomId": message.room_id, "sk": message.sort_key}),
                UpdateExpression=update,
                ConditionExpression=(
                    "userId = :author AND #k = :text_kind AND attribute_not_exists(deletedAt)"
                ),
                ExpressionAttributeNames={"#t": "text", "#k": "kind"},
                ExpressionAttributeValues=_item(
                    {**values, ":author": message.user_id, ":text_kind": Kind.TEXT.value}
                ),
                ReturnValues="ALL_NEW",
            )
        return _message(_plain(reply["Attributes"]))

    def last_message(self, room_id: str) -> Message | None:
        """A room's newest entry: one Query of one item."""
        reply = self._client.query(
            TableName=self._messages,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues=_item({":r": room_id}),
            ScanIndexForward=False,
            Limit=1,
        )
        return _message(_plain(reply["Items"][0])) if reply["Items"] else None

    def messages(self, room_id: str, before: str | None, limit: int) -> tuple[list[Message], bool]:
        """Up to ``limit`` messages before a cursor (or the newest), oldest first.

        One page of one Query, newest first; the second value says whether older
        messages remain.
        """
        condition = "roomId = :r"
        values: dict[str, Any] = {":r": room_id}
        if before is not None:
            condition += " AND sk < :before"
            values[":before"] = before
        reply = self._client.query(
            TableName=self._messages,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=_item(values),
            ScanIndexForward=False,
            Limit=limit + 1,  # one more than asked tells whether older ones exist
        )
        page = [_message(item) for item in map(_plain, reply["Items"])]
        more = len(page) > limit
        page = page[:limit]
        page.reverse()
        return page, more

    def leave(self, room_id: str, user_id: str, notice: Message | None = None) -> None:
        """Delete a membership that is not the admin's; with the conversation's notice
        of it, in one transaction."""
        delete = {
            "TableName": self._rooms,
            "Key": _item({"roomId": room_id, "sk": _member_sk(user_id)}),
            "ConditionExpression": "attribute_exists(roomId) AND #r <> :admin",
            "ExpressionAttributeNames": {"#r": "role"},
            "ExpressionAttributeValues": _item({":admin": Role.ADMIN.value}),
        }
        with _condition_or(NotMember("you are not in this room")):
            if notice is None:
                self._client.delete_item(**delete)
            else:
                self._client.transact_write_items(
                    TransactItems=[{"Delete": delete}, self._entry_put(notice)]
                )

    def remove_member(self, admin_id: str, notice: Message) -> None:
        """The admin removes an approved member: the membership goes, the conversation
        records it, and both happen only while ``admin_id`` is still the room's admin."""
        room_id, user_id = notice.room_id, notice.user_id
        with _condition_or(NoSuchMember("that user is not a member of this room")):
            self._client.transact_write_items(
                TransactItems=[
                    self._admin_check(room_id, admin_id),
                    {
                        "Delete": {
                            "TableName": self._rooms,
                            "Key": _item({"roomId": room_id, "sk": _member_sk(user_id)}),
                            "ConditionExpression": "#s = :approved AND #r = :member",
                            "ExpressionAttributeNames": {"#s": "status", "#r": "role"},
                            "ExpressionAttributeValues": _item(
                                {":approved": Status.APPROVED.value, ":member": Role.MEMBER.value}
                            ),
                        }
                    },
                    self._entry_put(notice),
                ]
            )

    def transfer_admin(self, admin_id: str, notice: Message) -> None:
        """Hand the room from ``admin_id`` to the approved member the notice names: the
        room's adminId and both memberships' roles change together, or nothing does."""
        room_id, user_id = notice.room_id, notice.user_id
        names = {"#s": "status", "#r": "role"}

        def set_role(member_id: str, was: Role, becomes: Role) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self._rooms,
                    "Key": _item({"roomId": room_id, "sk": _member_sk(member_id)}),
                    "UpdateExpression": "SET #r = :becomes",
                    "ConditionExpression": "#s = :approved AND #r = :was",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": _item(
                        {
                            ":approved": Status.APPROVED.value,
                            ":was": was.value,
                            ":becomes": becomes.value,
                        }
                    ),
                }
            }

        with _condition_or(NoSuchMember("that user is not a member of this room")):
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._rooms,
                            "Key": _item({"roomId": room_id, "sk": ROOM_SK}),
                            "UpdateExpression": "SET adminId = :new",
                            "ConditionExpression": "adminId = :old",
                            "ExpressionAttributeValues": _item({":new": user_id, ":old": admin_id}),
                        }
                    },
                    set_role(admin_id, Role.ADMIN, Role.MEMBER),
                    set_role(user_id, Role.MEMBER, Role.ADMIN),
                    self._entry_put(notice),
                ]
            )

    # --- helpers -----------------------------------------------------------------

    def _entry_put(self, message: Message) -> dict[str, Any]:
        """A transaction's Put of a conversation entry (a message or a notice)."""
        return {
            "Put": {
                "TableName": self._messages,
                "Item": _item(
                    {
                        "roomId": message.room_id,
                        "sk": message.sort_key,
                        "messageId": message.message_id,
                        "userId": message.user_id,
                        "name": message.name,
                        "text": message.text,
                        "sentAt": message.sent_at,
                        "kind": message.kind.value,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def _admin_check(self, room_id: str, admin_id: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._rooms,
                "Key": _item({"roomId": room_id, "sk": ROOM_SK}),
                "ConditionExpression": "adminId = :admin",
                "ExpressionAttributeValues": _item({":admin": admin_id}),
            }
        }

    def _member_item(self, member: Member) -> dict[str, Any]:
        return _item(
            {
                "roomId": member.room_id,
                "sk": _member_sk(member.user_id),
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

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("query").paginate(**kwargs):
            for item in page["Items"]:
                yield _plain(item)
