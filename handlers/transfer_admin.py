"""``transferAdmin``: the admin hands the room to another approved member.

The room's ``adminId`` and both members' roles change in one transaction; afterwards
the former admin is a member like any other and may leave.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Kind


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    room, target = request.admin_target(payload, rules.check_transfer)
    caller = request.caller()  # cached
    notice = rules.notice(Kind.ADMIN, target, rules.new_message_id(), request.now())
    request.store.transfer_admin(caller.user_id, notice)
    request.reply({"type": "adminTransferred", "roomId": room.room_id, "userId": target.user_id})
    request.announce_members(room.room_id, notice=notice)
