"""Presence and names: which connections each membership holds, the name each member
goes by, and the count of changes of a room's member list (its version)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from chat.rules import Member
from chat.store.tables import (
    ROOM_SK,
    USER_PREFIX,
    USER_SK,
    Tables,
    failed_items,
    is_condition_failure,
    member_sk,
    plain,
    to_item,
    to_member,
)


class Presence(Tables):
    """The memberships' connections and names, and the rooms' list versions."""

    def rename_user(self, user_id: str, name: str) -> int:
        """Record a user's new name on their own item; the number of this rename (each
        later one is higher), which the writes of the name elsewhere are conditional on."""
        reply = self._client.update_item(
            TableName=self._rooms,
            Key=to_item({"roomId": USER_PREFIX + user_id, "sk": USER_SK}),
            UpdateExpression="ADD renames :one SET #n = :name",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues=to_item({":one": 1, ":name": name}),
            ReturnValues="UPDATED_NEW",
        )
        return int(plain(reply["Attributes"])["renames"])

    def rename_member(self, member: Member, name: str, rename: int) -> bool:
        """A membership takes the name of rename number ``rename``, and the room's member
        list a new version, unless the membership is gone or has a later rename's name
        (False: nothing written)."""
        try:
            self.transact(
                [
                    {
                        "Update": {
                            "TableName": self._rooms,
                            "Key": to_item(
                                {"roomId": member.room_id, "sk": member_sk(member.user_id)}
                            ),
                            "UpdateExpression": "SET #n = :name, renamed = :rename",
                            "ConditionExpression": (
                                "attribute_exists(roomId) AND "
                                "(attribute_not_exists(renamed) OR renamed < :rename)"
                            ),
                            "ExpressionAttributeNames": {"#n": "name"},
                            "ExpressionAttributeValues": to_item(
                                {":name": name, ":rename": rename}
                            ),
                        }
                    },
                    self.room_change(member.room_id),
                ]
            )
        except ClientError as exc:
            if 0 in failed_items(exc):
                return False
            raise
        return True

    def attach(self, room_id: str, user_id: str, connection_id: str, name: str) -> None:
        """Add an open connection to a membership (and refresh the display name)."""
        try:
            self._client.update_item(
                TableName=self._rooms,
                Key=to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                UpdateExpression="ADD connections :c SET #n = :n",
                ConditionExpression="attribute_exists(roomId)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=to_item({":c": {connection_id}, ":n": name}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            return  # The membership went away meanwhile: nothing to attach to.
        self.bump(room_id)

    def detach(self, room_id: str, user_id: str, connection_id: str) -> Member | None:
        """Remove a connection from a membership; returns the membership after it."""
        try:
            reply = self._client.update_item(
                TableName=self._rooms,
                Key=to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                UpdateExpression="DELETE connections :c",
                ConditionExpression="attribute_exists(roomId) AND contains(connections, :id)",
                ExpressionAttributeValues=to_item({":c": {connection_id}, ":id": connection_id}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        self.bump(room_id)
        return to_member(plain(reply["Attributes"]))

    def bump(self, room_id: str) -> None:
        """Count a change of the member list made outside a transaction (presence).

        Done after the change, so a list read after any version includes it."""
        try:
            self._client.update_item(**self.room_change(room_id)["Update"])
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            # The room is gone: no list to keep current.

    def seat(self, members: Iterable[Member]) -> None:
        """Write memberships as they are, in batches, then count one change of each
        room's list. Not a handler's path: no request, no notice, no condition. It fills
        a room for a load test or a benchmark, where joining one by one would announce
        every arrival to everyone already in (N²/2 member lists for N)."""
        seated = list(members)
        writes = [{"PutRequest": {"Item": self.member_item(m)}} for m in seated]
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
                Key=to_item({"roomId": room_id, "sk": ROOM_SK}),
                UpdateExpression="SET probedAt = :now",
                ConditionExpression=(
                    "attribute_exists(roomId) AND "
                    "(attribute_not_exists(probedAt) OR probedAt <= :due)"
                ),
                ExpressionAttributeValues=to_item(
                    {":now": now, ":due": now - self._limits.presence_probe_seconds}
                ),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
