"""``removeMember``: the admin removes an approved member from the room.

The removed user's connections hear ``removed`` and from then on get nothing from the
room: the membership is gone, so they can no longer read, post or receive its events.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    room, target = request.admin_target(payload, rules.check_removal)
    caller = request.caller()  # cached
    notice = rules.notice(Kind.REMOVED, target, rules.new_message_id(), app.now())
    request.store.remove_member(caller.user_id, notice)
    request.reply({"type": "memberRemoved", "roomId": room.room_id, "userId": target.user_id})
    request.send(
        [target],
        {"type": "removed", "roomId": room.room_id, "roomName": room.name},
        to=target.connections,
    )
    request.announce_members(room.room_id, notice=notice)
