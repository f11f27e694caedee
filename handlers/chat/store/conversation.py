"""The conversation: members' messages, the ids that make sending idempotent, edits,
deletions, and pages of history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from chat.errors import (
    MessageNotFound,
)
from chat.rules import Kind, Message
from chat.store.tables import (
    MESSAGE_IDS_PREFIX,
    Tables,
    condition_or,
    is_condition_failure,
    plain,
    to_item,
    to_message,
)


class Conversation(Tables):
    """The messages table."""

    def add_message(self, message: Message) -> bool:
        """Store a member's message and its id together, unless the id is already taken.

        The entry is marked ``undelivered`` until :meth:`delivered`. Returns False,
        having written nothing, when a message with this id exists in the room: a
        repeat of a send whose reply was lost, or a double press.
        """
        try:
            self.transact(
                [
                    {
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
                    },
                    self.entry_put(message, undelivered=True),
                ]
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
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
        with condition_or(MessageNotFound("there is no such message in this room")):
            reply = self._client.update_item(
                TableName=self._messages,
                Key=to_item({"roomId": message.room_id, "sk": message.sort_key}),
                UpdateExpression=update,
                ConditionExpression=(
                    "userId = :author AND #k = :text_kind AND attribute_not_exists(deletedAt)"
                ),
                ExpressionAttributeNames={"#t": "text", "#k": "kind"},
                ExpressionAttributeValues=to_item(
                    {**values, ":author": message.user_id, ":text_kind": Kind.TEXT.value}
                ),
                ReturnValues="ALL_NEW",
            )
        return to_message(plain(reply["Attributes"]))

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
