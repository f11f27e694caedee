"""``sendMessage``: store the message, then deliver it to every approved member online.

One Query (the room and its members), one PutItem, one post per open connection,
then an acknowledgement to the sender.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Message


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_send_message(payload)
    room, members, _ = request.as_member(command.room_id)
    caller = request.caller()  # cached: the name this connection signed in with
    message = Message(
        room_id=room.room_id,
        message_id=rules.new_message_id(),
        user_id=caller.user_id,
        name=caller.name,
        text=command.text,
        sent_at=app.now(),
    )
    request.store.put_message(message)
    request.broadcast(room, members, {"type": "message", "message": rules.message_view(message)})
    # Sent after every post above has finished: the sender knows delivery is done.
    request.reply(
        {
            "type": "messageSent",
            "roomId": room.room_id,
            "messageId": message.message_id,
            "sentAt": message.sent_at,
        }
    )
