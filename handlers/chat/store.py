"""All DynamoDB access: three tables, no scans, every state change conditional.

Tables (names from :mod:`chat.config`):

- connections: ``connectionId`` → ``userId``, ``name``, ``connectedAt``, ``expiresAt`` (TTL),
  ``subscribed`` once the client has sent ``listRooms``, ``closedAt`` once the connection
  is known to be closed (the record stays until its TTL, so that requests the gateway
  accepted before the close still know their caller); index ``byUser`` (userId) finds
  a user's connections (several tabs). A record counts its connection's requests in the
  current fixed window (``r<window>``). Beside the records, ``connectionId =
  "rate#<window>#u#<userId>"`` counts a user's requests in a window (``n``), expiring by
  TTL.
- rooms: ``roomId`` + ``sk``. ``sk = "ROOM"`` holds the room (name, adminId, createdAt,
  ``version`` counting the member list's changes, ``pending`` counting the requests
  waiting, ``probedAt``); ``sk = "MEMBER#<userId>"`` holds a membership (name, role,
  status, requestedAt and ``roomName`` and ``connections``, the string set of the member's
  open connection ids, so that a broadcast needs one Query). Index ``byUser`` (userId,
  roomId) lists a user's rooms. ``roomId = "user#<userId>"`` + ``sk = "USER"`` counts the
  user's requests waiting in any room (``pending``).
- messages: ``roomId`` + ``sk = "<sentAt>#<messageId>"`` holds an entry of the
  conversation (text, kind, editedAt, deletedAt). Beside each room's partition,
  ``roomId = "ids#<roomId>"`` + ``sk = <messageId>`` maps a message id to its entry's
  ``sk``: written in one transaction with the entry, on condition that the id is
  new, it makes ``sendMessage`` idempotent and lets an edit find its message. A member's
  message is stored with ``undelivered`` set, removed once its fan-out has finished, so a
  retry of a send whose function died in between completes the delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from chat import config
from chat.errors import (
    AlreadyPending,
    ChatError,
    LimitReached,
    MessageNotFound,
    NoPendingRequest,
    NoSuchMember,
    NotConnected,
    NotMember,
    RateLimited,
    RoomNotFound,
)
from chat.rules import Identity, Kind, Member, Message, Role, Room, Status

ROOM_SK = "ROOM"
MEMBER_PREFIX = "MEMBER#"
USER_PREFIX = "user#"  # the rooms table's per-user counters
USER_SK = "USER"
RATE_PREFIX = "rate#"  # the connections table's rate counters
MESSAGE_IDS_PREFIX = "ids#"  # the partition that maps a room's message ids to entries
_OPEN = "attribute_exists(connectionId) AND attribute_not_exists(closedAt)"
# Standard retries (with backoff, on throttling and 5xx), as AWS recommends for DynamoDB.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_CONFLICT_RETRIES = 6  # a transaction cancelled by a concurrent one is tried again

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


def _cancellations(exc: ClientError) -> list[str]:
    """Each item's reason a transaction was cancelled (``"None"`` for the innocent)."""
    return [r.get("Code") or "None" for r in exc.response.get("CancellationReasons") or []]


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
        undelivered=bool(item.get("undelivered")),
    )


def _room(item: Mapping[str, Any]) -> Room:
    return Room(
        room_id=item["roomId"],
        name=item["name"],
        admin_id=item["adminId"],
        created_at=item["createdAt"],
        version=int(item.get("version", 0)),
    )


def _connection(item: Mapping[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connectionId"],
        user_id=item["userId"],
        name=item["name"],
        connected_at=item["connectedAt"],
        closed="closedAt" in item,
    )


class Store:
    """The chat's tables. Pass a client to share one or to point at an emulator."""

    def __init__(
        self,
        settings: config.Settings,
        client: Any = None,
        pause: Any = time.sleep,
    ) -> None:
        self._client = client or boto3.client("dynamodb", config=_CLIENT_CONFIG)
        self._connections = settings.connections_table
        self._rooms = settings.rooms_table
        self._messages = settings.messages_table
        self._limits = settings.limits
        self._pause = pause

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
        """A connection's record, closed or not: a request the gateway accepted before
        the close still has a caller."""
        reply = self._client.get_item(
            TableName=self._connections,
            Key=_item({"connectionId": connection_id}),
            ConsistentRead=True,
        )
        return _connection(_plain(reply["Item"])) if "Item" in reply else None

    def open_connections(self, user_id: str) -> list[Connection]:
        """A user's connections not known to be closed, through the ``byUser`` index."""
        return [
            _connection(item)
            for item in self._query(
                TableName=self._connections,
                IndexName=config.CONNECTIONS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                FilterExpression="attribute_not_exists(closedAt)",
                ExpressionAttributeValues=_item({":u": user_id}),
            )
        ]

    def subscribe(self, connection_id: str) -> None:
        """Mark a connection as open for fan-out (it has spoken since ``$connect``)."""
        with _condition_or(NotConnected("this connection is not registered; reconnect")):
            self._client.update_item(
                TableName=self._connections,
                Key=_item({"connectionId": connection_id}),
                UpdateExpression="SET subscribed = :t",
                ConditionExpression=_OPEN,
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
                FilterExpression="subscribed = :t AND attribute_not_exists(closedAt)",
                ExpressionAttributeValues=_item({":u": user_id, ":t": True}),
            )
        )

    def retire_connection(self, connection_id: str, closed_at: str, expires_at: int) -> bool:
        """Mark a connection closed, keeping its record until ``expires_at`` (TTL) for the
        requests still in flight; True if this call closed it, False if it already was
        (or there is no record)."""
        try:
            self._client.update_item(
                TableName=self._connections,
                Key=_item({"connectionId": connection_id}),
                UpdateExpression="SET closedAt = :at, expiresAt = :exp REMOVE subscribed",
                ConditionExpression=_OPEN,
                ExpressionAttributeValues=_item({":at": closed_at, ":exp": expires_at}),
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def count_request(self, connection_id: str, now: int) -> Connection | None:
        """Count one request against the connection's rate in the current window, and
        against its user's; the connection's record (None: no such connection, and so
        nothing counted), or :class:`RateLimited` when either rate is used up.

        The connection's count is an attribute of its own record, named for the window
        (``r<window>``, the previous window's removed as it goes), so that counting and
        finding the caller are one conditional update; the user's is a counter item of
        its own. Two updates, not a transaction: a request refused for the user's rate
        may as well count against its connection's.
        """
        limits = self._limits
        window = now // limits.rate_window_seconds
        retry_after = (window + 1) * limits.rate_window_seconds - now

        def refused(whose: str) -> RateLimited:
            return RateLimited(
                f"too many requests from {whose}; wait {retry_after} s", retryAfter=retry_after
            )

        try:
            reply = self._client.update_item(
                TableName=self._connections,
                Key=_item({"connectionId": connection_id}),
                UpdateExpression="ADD #win :one REMOVE #prev",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND (attribute_not_exists(#win) OR #win < :max)"
                ),
                ExpressionAttributeNames={"#win": f"r{window}", "#prev": f"r{window - 1}"},
                ExpressionAttributeValues=_item({":one": 1, ":max": limits.rate_per_connection}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            if "Item" in exc.response:
                raise refused("this connection") from exc
            return None
        connection = _connection(_plain(reply["Attributes"]))
        with _condition_or(refused("you")):
            self._client.update_item(
                TableName=self._connections,
                Key=_item({"connectionId": f"{RATE_PREFIX}{window}#u#{connection.user_id}"}),
                UpdateExpression="ADD n :one SET expiresAt = :exp",
                ConditionExpression="attribute_not_exists(n) OR n < :max",
                ExpressionAttributeValues=_item(
                    {
                        ":one": 1,
                        ":exp": (window + 2) * limits.rate_window_seconds,  # TTL clears it
                        ":max": limits.rate_per_user,
                    }
                ),
            )
        return connection

    # --- rooms and members ---------------------------------------------------

    def create_room(self, room: Room, admin: Member) -> None:
        """Write the room and its admin together; fails if the id is taken."""
        self._transact(
            [
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
                                "version": room.version,
                                "pending": 0,
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
        """The room and all its memberships, in one consistent Query.

        The Query runs backwards, so the room item (``ROOM`` sorts after ``MEMBER#``)
        and its ``version`` are read before the memberships: whatever list comes with
        a version reflects at least every change that version counts.
        """
        room: Room | None = None
        members: list[Member] = []
        for item in self._query(
            TableName=self._rooms,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues=_item({":r": room_id}),
            ConsistentRead=True,
            ScanIndexForward=False,
        ):
            if item["sk"] == ROOM_SK:
                room = _room(item)
            elif item["sk"].startswith(MEMBER_PREFIX):
                members.append(_member(item))
        if room is None:
            raise RoomNotFound(f"no room with id {room_id}", roomId=room_id)
        members.reverse()
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
        """Record a pending request, unless one is pending or the user is a member, or
        the room or the user already has as many requests waiting as allowed."""
        limits = self._limits
        items = [
            {
                "Put": {
                    "TableName": self._rooms,
                    "Item": self._member_item(member),
                    "ConditionExpression": "attribute_not_exists(roomId) OR #s = :rejected",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": _item({":rejected": Status.REJECTED.value}),
                }
            },
            self._room_change(member.room_id, pending=1, most=limits.max_pending_per_room),
            self._user_pending(member.user_id, 1, most=limits.max_pending_per_user),
        ]
        try:
            self._transact(items)
        except ClientError as exc:
            reasons = _cancellations(exc)
            if "ConditionalCheckFailed" not in reasons:
                raise
            if reasons[0] == "ConditionalCheckFailed":
                raise AlreadyPending("your request to join is already waiting") from exc
            if reasons[1] == "ConditionalCheckFailed":
                raise LimitReached(
                    "this room has as many requests waiting as it takes; try again later",
                    limit=limits.max_pending_per_room,
                ) from exc
            raise LimitReached(
                "you have as many requests waiting as you may; wait for an answer, or withdraw one",
                limit=limits.max_pending_per_user,
            ) from exc

    def decide(
        self, room_id: str, user_id: str, status: Status, notice: Message | None = None
    ) -> Member:
        """Approve or reject a pending request; only a pending one can change.

        The decision, the counts of waiting requests and, with a ``notice`` (the
        conversation's "joined"), the notice are written in one transaction.
        """
        items = [
            {
                "Update": {
                    "TableName": self._rooms,
                    "Key": _item({"roomId": room_id, "sk": _member_sk(user_id)}),
                    "UpdateExpression": "SET #s = :new",
                    "ConditionExpression": "#s = :pending",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": _item(
                        {":new": status.value, ":pending": Status.PENDING.value}
                    ),
                }
            },
            self._room_change(room_id, pending=-1),
            self._user_pending(user_id, -1),
        ]
        if notice is not None:
            items.append(self._entry_put(notice))
        with _condition_or(NoPendingRequest("that user has no pending request in this room")):
            self._transact(items)
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
            return  # The membership went away meanwhile: nothing to attach to.
        self.bump(room_id)

    def detach(self, room_id: str, user_id: str, connection_id: str) -> Member | None:
        """Remove a connection from a membership; returns the membership after it."""
        try:
            reply = self._client.update_item(
                TableName=self._rooms,
                Key=_item({"roomId": room_id, "sk": _member_sk(user_id)}),
                UpdateExpression="DELETE connections :c",
                ConditionExpression="attribute_exists(roomId) AND contains(connections, :id)",
                ExpressionAttributeValues=_item({":c": {connection_id}, ":id": connection_id}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        self.bump(room_id)
        return _member(_plain(reply["Attributes"]))

    def bump(self, room_id: str) -> None:
        """Count a change of the member list made outside a transaction (presence).

        Done after the change, so a list read after any version includes it."""
        try:
            self._client.update_item(**self._room_change(room_id)["Update"])
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # The room is gone: no list to keep current.

    def seat(self, members: Iterable[Member]) -> None:
        """Write memberships as they are, in batches, then count one change of each
        room's list. Not a handler's path: no request, no notice, no condition. It fills
        a room for a load test or a benchmark, where joining one by one would announce
        every arrival to everyone already in (N²/2 member lists for N)."""
        seated = list(members)
        writes = [{"PutRequest": {"Item": self._member_item(m)}} for m in seated]
        for start in range(0, len(writes), 25):  # BatchWriteItem takes 25 at a time
            waiting: dict[str, Any] = {self._rooms: writes[start : start + 25]}
            while waiting:
                waiting = self._client.batch_write_item(RequestItems=waiting)["UnprocessedItems"]
        for room_id in {m.room_id for m in seated}:
            self.bump(room_id)

    def claim_probe(self, room_id: str, now: int) -> bool:
        """Whether it is time to probe the room's pending members' connections; True
        claims it (at most one probe per ``presence_probe_seconds``)."""
        try:
            self._client.update_item(
                TableName=self._rooms,
                Key=_item({"roomId": room_id, "sk": ROOM_SK}),
                UpdateExpression="SET probedAt = :now",
                ConditionExpression=(
                    "attribute_exists(roomId) AND "
                    "(attribute_not_exists(probedAt) OR probedAt <= :due)"
                ),
                ExpressionAttributeValues=_item(
                    {":now": now, ":due": now - self._limits.presence_probe_seconds}
                ),
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    # --- messages --------------------------------------------------------------

    def add_message(self, message: Message) -> bool:
        """Store a member's message and its id together, unless the id is already taken.

        The entry is marked ``undelivered`` until :meth:`delivered`. Returns False,
        having written nothing, when a message with this id exists in the room: a
        repeat of a send whose reply was lost, or a double press.
        """
        try:
            self._transact(
                [
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
                    self._entry_put(message, undelivered=True),
                ]
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def delivered(self, message: Message) -> None:
        """The message's fan-out has finished: a repeat of it needn't deliver it again."""
        try:
            self._client.update_item(
                TableName=self._messages,
                Key=_item({"roomId": message.room_id, "sk": message.sort_key}),
                UpdateExpression="REMOVE undelivered",
                ConditionExpression="attribute_exists(sk)",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

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

    def leave(self, leaving: Member, notice: Message | None = None) -> None:
        """Delete a membership that is not the admin's, in the status it was read in;
        with the conversation's notice of it, in one transaction."""
        room_id, user_id = leaving.room_id, leaving.user_id
        pending = leaving.status is Status.PENDING
        items = [
            {
                "Delete": {
                    "TableName": self._rooms,
                    "Key": _item({"roomId": room_id, "sk": _member_sk(user_id)}),
                    "ConditionExpression": "#r <> :admin AND #s = :status",
                    "ExpressionAttributeNames": {"#r": "role", "#s": "status"},
                    "ExpressionAttributeValues": _item(
                        {":admin": Role.ADMIN.value, ":status": leaving.status.value}
                    ),
                }
            },
            self._room_change(room_id, pending=-1 if pending else 0),
        ]
        if pending:
            items.append(self._user_pending(user_id, -1))
        if notice is not None:
            items.append(self._entry_put(notice))
        with _condition_or(NotMember("you are not in this room")):
            self._transact(items)

    def remove_member(self, admin_id: str, notice: Message) -> None:
        """The admin removes an approved member: the membership goes, the conversation
        records it, and both happen only while ``admin_id`` is still the room's admin."""
        room_id, user_id = notice.room_id, notice.user_id
        with _condition_or(NoSuchMember("that user is not a member of this room")):
            self._transact(
                [
                    self._room_change(room_id, admin_id=admin_id),
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
            self._transact(
                [
                    self._room_change(room_id, admin_id=admin_id, new_admin=user_id),
                    set_role(admin_id, Role.ADMIN, Role.MEMBER),
                    set_role(user_id, Role.MEMBER, Role.ADMIN),
                    self._entry_put(notice),
                ]
            )

    # --- helpers -----------------------------------------------------------------

    def _room_change(
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
                "Key": _item({"roomId": room_id, "sk": ROOM_SK}),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": _item(values),
            }
        }

    def _user_pending(self, user_id: str, change: int, most: int | None = None) -> dict[str, Any]:
        """The user's count of requests waiting in any room, changed by ``change``."""
        update: dict[str, Any] = {
            "TableName": self._rooms,
            "Key": _item({"roomId": USER_PREFIX + user_id, "sk": USER_SK}),
            "UpdateExpression": "ADD pending :p",
            "ExpressionAttributeValues": _item({":p": change}),
        }
        if most is not None:
            update["ConditionExpression"] = "attribute_not_exists(pending) OR pending < :most"
            update["ExpressionAttributeValues"] = _item({":p": change, ":most": most})
        return {"Update": update}

    def _entry_put(self, message: Message, undelivered: bool = False) -> dict[str, Any]:
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
                        "undelivered": True if undelivered else None,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One transaction; tried again when only a concurrent transaction on the same
        items cancelled it (DynamoDB's ``TransactionConflict``), as AWS advises."""
        for attempt in range(_CONFLICT_RETRIES):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = _cancellations(exc)
                conflict = "TransactionConflict" in reasons and "ConditionalCheckFailed" not in (
                    reasons
                )
                if not conflict or attempt == _CONFLICT_RETRIES - 1:
                    raise
                log.info("transaction conflict; trying again")
                self._pause(0.01 * 2**attempt)

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
