"""``leaveRoom``: a member leaves (or a requester withdraws); the room is told."""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    caller = request.caller()
    room, members = request.store.load_room(command.room_id)
    leaving = rules.check_leave(rules.find_member(members, caller.user_id))
    request.store.leave(room.room_id, caller.user_id)
    remaining = [m for m in members if m.user_id != caller.user_id]
    # Every tab of the leaver hears it; the caller's own connection gets the ref.
    request.reply({"type": "left", "roomId": room.room_id})
    others = leaving.connections - {request.connection_id}
    request.send(room, [leaving], {"type": "left", "roomId": room.room_id}, to=others)
    request.broadcast(room, remaining, rules.members_event(room, remaining))
