"""``transferAdmin``: the admin hands the room to another approved member.

The room's ``adminId`` and both members' roles change in one transaction; afterwards
the former admin is a member like any other and may leave.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind, Role


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    room, members, target = request.admin_target(payload, rules.check_transfer)
    caller = request.caller()  # cached
    notice = rules.notice(Kind.ADMIN, target, rules.new_message_id(), app.now())
    request.store.transfer_admin(caller.user_id, notice)
    roles = {caller.user_id: Role.MEMBER, target.user_id: Role.ADMIN}
    members = [rules.as_role(m, roles[m.user_id]) if m.user_id in roles else m for m in members]
    request.reply({"type": "adminTransferred", "roomId": room.room_id, "userId": target.user_id})
    request.post_entry(room, members, notice)
    request.broadcast(room, members, rules.members_event(room, members))
