"""``sendMessage``: store the message, then deliver it to every approved member online.

One Query (the room and its members), one transaction (the message and its id), one
post per open connection, then an acknowledgement to the sender.

Idempotent: the client names the message (``messageId``), and the write is conditional
on that id being new in the room. A repeat of the same id (a retry after a lost reply,
a double press) stores nothing and is acknowledged like the original, with
``duplicate: true``. The message is marked delivered once its fan-out has finished; a
repeat of one that isn't (the function died between storing and delivering it)
delivers it, so a retry completes what the first attempt began.
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
        message_id=command.message_id or rules.new_message_id(),
        user_id=caller.user_id,
        name=caller.name,
        text=command.text,
        sent_at=app.now(),
    )
    duplicate = not request.store.add_message(message)
    if duplicate:
        message = rules.check_repeat(
            request.store.message(room.room_id, message.message_id), caller.user_id
        )
    if not duplicate or message.undelivered:
        request.post_entry(members, message)
        request.store.delivered(message)
    # Sent after every post above has finished: the sender knows delivery is done.
    request.reply(
        {
            "type": "messageSent",
            "roomId": room.room_id,
            "messageId": message.message_id,
            "sentAt": message.sent_at,
            "duplicate": duplicate,
        }
    )
