"""Rooms and memberships: creating rooms, requests and decisions, leaving, removals and
hand-overs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chat import config
from chat.errors import (
    AlreadyPending,
    LimitReached,
    NoPendingRequest,
    NoSuchMember,
    NotAdmin,
    RoomNotFound,
)
from chat.rules import Member, Message, Role, Room, Status
from chat.store.tables import (
    AFTER_LAST_ENTRY,
    MEMBER_PREFIX,
    ROOM_SK,
    Conflict,
    Tables,
    cancellations,
    failed_items,
    member_sk,
    plain,
    to_item,
    to_member,
    to_room,
)


class Rooms(Tables):
    """The rooms table: rooms, memberships and the per-user counters."""

    def create_room(self, room: Room, admin: Member) -> None:
        """Write the room and its admin together; fails if the id is taken."""
        self.transact(
            [
                {
                    "Put": {
                        "TableName": self._rooms,
                        "Item": to_item(
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
                        "Item": self.member_item(admin),
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
        for item in self.query(
            TableName=self._rooms,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues=to_item({":r": room_id}),
            ConsistentRead=True,
            ScanIndexForward=False,
        ):
            if item["sk"] == ROOM_SK:
                room = to_room(item)
            elif item["sk"].startswith(MEMBER_PREFIX):
                members.append(to_member(item))
        if room is None:
            raise RoomNotFound(f"no room with id {room_id}", roomId=room_id)
        members.reverse()
        return room, members

    def memberships(self, user_id: str) -> list[Member]:
        """Every membership of a user (any status), through the ``byUser`` index."""
        return [
            to_member(item)
            for item in self.query(
                TableName=self._rooms,
                IndexName=config.ROOMS_BY_USER_INDEX,
                KeyConditionExpression="userId = :u",
                ExpressionAttributeValues=to_item({":u": user_id}),
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
                    "Item": self.member_item(member),
                    "ConditionExpression": "attribute_not_exists(roomId) OR #s = :rejected",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": to_item({":rejected": Status.REJECTED.value}),
                }
            },
            self.room_change(member.room_id, pending=1, most=limits.max_pending_per_room),
            self.user_pending(member.user_id, 1, most=limits.max_pending_per_user),
        ]
        try:
            self.transact(items)
        except ClientError as exc:
            reasons = cancellations(exc)
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
        self,
        room_id: str,
        user_id: str,
        status: Status,
        admin_id: str,
        notice: Message | None = None,
    ) -> Member:
        """Approve or reject a pending request, on condition that it is still pending
        (else NO_PENDING_REQUEST) and ``admin_id`` still the room's admin (else
        NOT_ADMIN): an admin who handed the room over meanwhile decides nothing.

        The decision, the counts of waiting requests and, with a ``notice`` (the
        conversation's "joined"), the notice are written in one transaction.
        """
        items = [
            {
                "Update": {
                    "TableName": self._rooms,
                    "Key": to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                    "UpdateExpression": "SET #s = :new",
                    "ConditionExpression": "#s = :pending",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": to_item(
                        {":new": status.value, ":pending": Status.PENDING.value}
                    ),
                }
            },
            self.room_change(room_id, pending=-1, admin_id=admin_id),
            self.user_pending(user_id, -1),
        ]
        if notice is not None:
            items += self.entry_writes(notice)
        try:
            self.transact(items)
        except ClientError as exc:
            failed = failed_items(exc)
            if 1 in failed:
                raise NotAdmin("only the room's admin can approve or reject requests") from exc
            if 0 in failed:
                raise NoPendingRequest("that user has no pending request in this room") from exc
            raise
        decided = self.member(room_id, user_id)
        if decided is None:  # left again in the instant since; the decision stands
            raise NoPendingRequest("that user has no pending request in this room")
        return decided

    def room(self, room_id: str) -> Room:
        """The room item alone (ROOM_NOT_FOUND if there is none)."""
        reply = self._client.get_item(
            TableName=self._rooms,
            Key=to_item({"roomId": room_id, "sk": ROOM_SK}),
            ConsistentRead=True,
        )
        if "Item" not in reply:
            raise RoomNotFound(f"no room with id {room_id}", roomId=room_id)
        return to_room(plain(reply["Item"]))

    def member(self, room_id: str, user_id: str) -> Member | None:
        reply = self._client.get_item(
            TableName=self._rooms,
            Key=to_item({"roomId": room_id, "sk": member_sk(user_id)}),
            ConsistentRead=True,
        )
        return to_member(plain(reply["Item"])) if "Item" in reply else None

    def leave(self, leaving: Member, notice: Message | None = None) -> None:
        """Delete a membership that is not the admin's, in the status it was read in;
        with the conversation's notice of it, sorted after the member's last entry, in
        one transaction. :class:`Conflict` if the membership changed since it was read."""
        room_id, user_id = leaving.room_id, leaving.user_id
        pending = leaving.status is Status.PENDING
        condition = "#r <> :admin AND #s = :status"
        values = {":admin": Role.ADMIN.value, ":status": leaving.status.value}
        if notice is not None:
            condition += f" AND {AFTER_LAST_ENTRY}"
            values[":sk"] = notice.sort_key
        items = [
            {
                "Delete": {
                    "TableName": self._rooms,
                    "Key": to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#r": "role", "#s": "status"},
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            self.room_change(room_id, pending=-1 if pending else 0),
        ]
        if pending:
            items.append(self.user_pending(user_id, -1))
        if notice is not None:
            items += self.entry_writes(notice)
        try:
            self.transact(items)
        except ClientError as exc:
            if 0 in failed_items(exc):
                raise Conflict("the membership changed since it was read") from exc
            raise

    def remove_member(self, admin_id: str, notice: Message) -> None:
        """The admin removes an approved member: the membership goes and the
        conversation records it (after the member's last entry), only while ``admin_id``
        is still the room's admin (else NOT_ADMIN). :class:`Conflict` if the membership
        changed since it was read (gone, or a newer entry of theirs)."""
        room_id, user_id = notice.room_id, notice.user_id
        removal = {
            "Delete": {
                "TableName": self._rooms,
                "Key": to_item({"roomId": room_id, "sk": member_sk(user_id)}),
                "ConditionExpression": f"#s = :approved AND #r = :member AND {AFTER_LAST_ENTRY}",
                "ExpressionAttributeNames": {"#s": "status", "#r": "role"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":approved": Status.APPROVED.value,
                        ":member": Role.MEMBER.value,
                        ":sk": notice.sort_key,
                    }
                ),
            }
        }
        try:
            self.transact(
                [self.room_change(room_id, admin_id=admin_id), removal, *self.entry_writes(notice)]
            )
        except ClientError as exc:
            failed = failed_items(exc)
            if 0 in failed:
                raise NotAdmin("only the room's admin can remove members") from exc
            if 1 in failed:
                raise Conflict("the membership changed since it was read") from exc
            raise

    def transfer_admin(self, admin_id: str, notice: Message) -> None:
        """Hand the room from ``admin_id`` to the approved member the notice names: the
        room's adminId and both memberships' roles change together, or nothing does
        (NOT_ADMIN if ``admin_id`` no longer is, NO_SUCH_MEMBER if the member no longer
        is one)."""
        room_id, user_id = notice.room_id, notice.user_id
        names = {"#s": "status", "#r": "role"}

        def set_role(member_id: str, was: Role, becomes: Role) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self._rooms,
                    "Key": to_item({"roomId": room_id, "sk": member_sk(member_id)}),
                    "UpdateExpression": "SET #r = :becomes",
                    "ConditionExpression": "#s = :approved AND #r = :was",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_item(
                        {
                            ":approved": Status.APPROVED.value,
                            ":was": was.value,
                            ":becomes": becomes.value,
                        }
                    ),
                }
            }

        try:
            self.transact(
                [
                    self.room_change(room_id, admin_id=admin_id, new_admin=user_id),
                    set_role(admin_id, Role.ADMIN, Role.MEMBER),
                    set_role(user_id, Role.MEMBER, Role.ADMIN),
                    *self.entry_writes(notice),
                ]
            )
        except ClientError as exc:
            failed = failed_items(exc)
            if failed & {0, 1}:
                raise NotAdmin("only the room's admin can hand the room over") from exc
            if 2 in failed:
                raise NoSuchMember("that user is not a member of this room") from exc
            raise
