"""``deleteMessage``: the author deletes a message; a marker stays in its place.

Conditional as an edit is (see ``edit_message``); the deletion raises the version too,
so an edit that lost the race can't bring the text back on anyone's screen.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Message


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_message_ref(payload)

    def delete() -> Message:
        original = request.own_message(command.room_id, command.message_id)
        return request.store.delete_message(original, request.now())

    deleted = app.until_written(delete)
    request.deliver(deleted, "messageUpdated")
    request.reply(
        {
            "type": "messageDeleted",
            "roomId": deleted.room_id,
            "messageId": deleted.message_id,
            "deletedAt": deleted.deleted_at,
            "version": deleted.version,
        }
    )
