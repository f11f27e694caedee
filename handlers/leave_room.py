"""``leaveRoom``: a member leaves, a requester withdraws, or a rejected user drops the
room from their list. When a member leaves, the conversation records it."""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind, Status


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    caller = request.caller()
    room, members = request.store.load_room(command.room_id)
    leaving = rules.check_leave(rules.find_member(members, caller.user_id))
    notice = None
    if leaving.status is Status.APPROVED:
        notice = rules.notice(Kind.LEFT, leaving, rules.new_message_id(), app.now())
    request.store.leave(leaving, notice)
    # Every tab of the leaver hears it; the caller's own connection gets the ref.
    request.reply({"type": "left", "roomId": room.room_id})
    others = leaving.connections - {request.connection_id}
    request.send([leaving], {"type": "left", "roomId": room.room_id}, to=others)
    if rules.is_listed(leaving):
        request.announce_members(room.room_id, notice=notice)
