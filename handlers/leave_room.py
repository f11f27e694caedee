"""``leaveRoom``: a member leaves, a requester withdraws, or a rejected user drops the
room from their list. When a member leaves, the conversation records it, after the
member's last message.

The membership is deleted on condition of the state it was read in (its status, not
the admin); if that changed meanwhile (approved while withdrawing, handed the room), it
is read and checked again, so the caller leaves in whatever state they are now, or is
told why they can't.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind, Member, Message, Room, Status


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    caller = request.caller()

    def leave() -> tuple[Room, Member, Message | None]:
        room, members = request.store.load_room(command.room_id)
        leaving = rules.check_leave(rules.find_member(members, caller.user_id))
        notice = None
        if leaving.status is Status.APPROVED:
            sent_at = rules.entry_time(request.now(), leaving.last_entry)
            notice = rules.notice(Kind.LEFT, leaving, rules.new_message_id(), sent_at)
        request.store.leave(leaving, notice)
        return room, leaving, notice

    room, leaving, notice = app.until_written(leave)
    # Every tab of the leaver hears it; the caller's own connection gets the ref.
    request.reply({"type": "left", "roomId": room.room_id})
    others = leaving.connections - {request.connection_id}
    request.send([leaving], {"type": "left", "roomId": room.room_id}, to=others)
    if rules.is_listed(leaving):
        request.announce_members(room.room_id, notice=notice)
