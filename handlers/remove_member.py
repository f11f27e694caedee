"""``removeMember``: the admin removes an approved member from the room.

The removed user's connections hear ``removed`` and from then on get nothing written
after it from the room: the membership is gone, so they can no longer read, post or
receive its events. The removal is written on condition that the caller is still the
admin, and its notice sorts after the member's last message.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind, Member, Message, Room


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    caller = request.caller()

    def remove() -> tuple[Room, Member, Message]:
        room, target = request.admin_target(payload, rules.check_removal)
        sent_at = rules.entry_time(request.now(), target.last_entry)
        notice = rules.notice(Kind.REMOVED, target, rules.new_message_id(), sent_at)
        request.store.remove_member(caller.user_id, notice)
        return room, target, notice

    room, target, notice = app.until_written(remove)
    request.reply({"type": "memberRemoved", "roomId": room.room_id, "userId": target.user_id})
    request.send(
        [target],
        {"type": "removed", "roomId": room.room_id, "roomName": room.name},
        to=target.connections,
    )
    request.announce_members(room.room_id, notice=notice)
