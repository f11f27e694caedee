"""``editMessage``: the author replaces a message's text; the room sees it change."""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_edit_message(payload)
    room, members, original = request.own_message(command.room_id, command.message_id)
    edited = request.store.edit_message(original, command.text, app.now())
    request.post_entry(members, edited, "messageUpdated")
    request.reply(
        {
            "type": "messageEdited",
            "roomId": room.room_id,
            "messageId": edited.message_id,
            "editedAt": edited.edited_at,
        }
    )
