"""The conversation: members' messages, the ids that make sending idempotent, edits,
deletions, and pages of history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from chat.errors import NotMember
from chat.rules import Kind, Message
from chat.store.tables import (
    MESSAGE_IDS_PREFIX,
    Conflict,
    Tables,
    failed_items,
    is_condition_failure,
    plain,
    to_item,
    to_message,
)


class Conversation(Tables):
    """The messages table."""

    def add_message(self, message: Message) -> bool:
        """Store a member's message and its id together, on condition that the id is
        new in the room and that the author is an approved member whose previous entry
        sorts before this one.

        The entry is marked ``undelivered`` until :meth:`delivered`. Returns False,
        having written nothing, when the id is taken (a repeat of a send whose reply was
        lost, a double press, or another entry's id); raises :class:`Conflict` when the
        author's membership failed the condition (gone, or a newer entry of theirs).
        """
        try:
            self.transact([*self.entry_writes(message, undelivered=True), self.sent_by(message)])
        except ClientError as exc:
            failed = failed_items(exc)
            if 0 in failed:  # the id: it is stored, whoever's it is
                return False
            if failed:
                raise Conflict("the author's membership changed") from exc
            raise
        return True

    def delivered(self, message: Message) -> None:
        """The message's fan-out has finished: a repeat of it needn't deliver it again."""
        try:
            self._client.update_item(
                TableName=self._messages,
                Key=to_item({"roomId": message.room_id, "sk": message.sort_key}),
                UpdateExpression="REMOVE undelivered",
                ConditionExpression="attribute_exists(sk)",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def message(self, room_id: str, message_id: str) -> Message | None:
        """A member's message by its id: two GetItems (the id, then the entry)."""
        ids = self._client.get_item(
            TableName=self._messages,
            Key=to_item({"roomId": MESSAGE_IDS_PREFIX + room_id, "sk": message_id}),
            ConsistentRead=True,
        )
        if "Item" not in ids:
            return None
        entry = plain(ids["Item"])["entry"]
        reply = self._client.get_item(
            TableName=self._messages,
            Key=to_item({"roomId": room_id, "sk": entry}),
            ConsistentRead=True,
        )
        return to_message(plain(reply["Item"])) if "Item" in reply else None

    def edit_message(self, message: Message, text: str, edited_at: str) -> Message:
        """Replace the text of a message as it was read; returns it as it now is."""
        edited = replace(message, text=text, edited_at=edited_at, version=message.version + 1)
        self._change(
            edited,
            "SET #t = :text, editedAt = :at, version = :v",
            {":text": text, ":at": edited_at},
            was=message.version,
        )
        return edited

    def delete_message(self, message: Message, deleted_at: str) -> Message:
        """Blank a message as it was read, leaving a marker in its place."""
        deleted = replace(message, text="", deleted_at=deleted_at, version=message.version + 1)
        self._change(
            deleted,
            "SET deletedAt = :at, version = :v REMOVE #t",
            {":at": deleted_at},
            was=message.version,
        )
        return deleted

    def _change(self, changed: Message, update: str, values: Mapping[str, Any], was: int) -> None:
        """Write an edit or a deletion, on condition that the stored entry is still the
        author's text, not deleted, at version ``was`` (else :class:`Conflict`: read it
        again), and that the author is still an approved member (else NOT_MEMBER)."""
        version = "version = :was"
        if was == 1:  # entries stored before versions have none
            version = "(attribute_not_exists(version) OR version = :was)"
        entry = {
            "Update": {
                "TableName": self._messages,
                "Key": to_item({"roomId": changed.room_id, "sk": changed.sort_key}),
                "UpdateExpression": update,
                "ConditionExpression": (
                    "userId = :author AND #k = :text_kind AND attribute_not_exists(deletedAt)"
                    f" AND {version}"
                ),
                "ExpressionAttributeNames": {"#t": "text", "#k": "kind"},
                "ExpressionAttributeValues": to_item(
                    {
                        **values,
                        ":v": changed.version,
                        ":was": was,
                        ":author": changed.user_id,
                        ":text_kind": Kind.TEXT.value,
                    }
                ),
            }
        }
        try:
            self.transact([entry, self.approved_check(changed.room_id, changed.user_id)])
        except ClientError as exc:
            failed = failed_items(exc)
            if 1 in failed:
                raise NotMember("you are not a member of this room") from exc
            if failed:
                raise Conflict("the message changed since it was read") from exc
            raise

    def last_message(self, room_id: str) -> Message | None:
        """A room's newest entry: one Query of one item."""
        reply = self._client.query(
            TableName=self._messages,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues=to_item({":r": room_id}),
            ScanIndexForward=False,
            Limit=1,
        )
        return to_message(plain(reply["Items"][0])) if reply["Items"] else None

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
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=False,
            Limit=limit + 1,  # one more than asked tells whether older ones exist
        )
        page = [to_message(item) for item in map(plain, reply["Items"])]
        more = len(page) > limit
        page = page[:limit]
        page.reverse()
        return page, more
