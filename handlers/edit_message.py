"""``editMessage``: the author replaces a message's text; the room sees it change.

The write is conditional on the message as it was read (the author's text, not deleted,
at the version read) and on the author still being an approved member; if the message
changed in between, it is read and checked again. Each edit raises the message's
``version``, so clients keep the newest state whatever order updates arrive in.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Message


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_edit_message(payload)

    def edit() -> Message:
        original = request.own_message(command.room_id, command.message_id)
        return request.store.edit_message(original, command.text, request.now())

    edited = app.until_written(edit)
    request.deliver(edited, "messageUpdated")
    request.reply(
        {
            "type": "messageEdited",
            "roomId": edited.room_id,
            "messageId": edited.message_id,
            "editedAt": edited.edited_at,
            "version": edited.version,
        }
    )
