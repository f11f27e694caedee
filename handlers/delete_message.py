"""``deleteMessage``: the author deletes a message; a marker stays in its place."""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_message_ref(payload)
    room, members, original = request.own_message(command.room_id, command.message_id)
    deleted = request.store.delete_message(original, app.now())
    request.post_entry(members, deleted, "messageUpdated")
    request.reply(
        {
            "type": "messageDeleted",
            "roomId": room.room_id,
            "messageId": deleted.message_id,
            "deletedAt": deleted.deleted_at,
        }
    )
