"""``sendMessage``: store the message, then deliver it to every approved member online.

One GetItem (the caller's membership), one transaction (the message, its id, and the
author's membership), one Query (the room's members, read after the write), one post
per open connection, then an acknowledgement to the sender.

The write is conditional on what was checked: the author is still an approved member,
and the message sorts after their previous entry in the room (their ``lastEntry``), so
a member removed in the meantime stores nothing, and one author's messages stand in
history in the order they were stored, whatever the clocks of the function instances
say. The members are read after the write, so a member removed before it committed
never receives it.

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
    caller = request.caller()  # the name this connection goes by
    message_id = command.message_id or rules.new_message_id()

    def store() -> tuple[Message, bool]:
        author = request.membership(command.room_id)
        message = Message(
            room_id=command.room_id,
            message_id=message_id,
            user_id=caller.user_id,
            name=caller.name,
            text=command.text,
            sent_at=rules.entry_time(request.now(), author.last_entry),
        )
        return message, request.store.add_message(message)

    message, stored = app.until_written(store)
    if not stored:
        message = rules.check_repeat(
            request.store.message(command.room_id, message_id), caller.user_id
        )
    if stored or message.undelivered:
        request.deliver(message)
        request.store.delivered(message)
    # Sent after every post above has finished: the sender knows delivery is done, and a
    # client that sends its next message only now has its messages delivered in order.
    request.reply(
        {
            "type": "messageSent",
            "roomId": command.room_id,
            "messageId": message.message_id,
            "sentAt": message.sent_at,
            "duplicate": not stored,
        }
    )
