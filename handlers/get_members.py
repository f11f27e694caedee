"""``getMembers``: the room's member list, for its approved members.

The list comes in as many ``members`` parts as it takes to fit API Gateway's 128 KB
per message; the pending members' connections may be probed first (and if any is
gone, the list read again).
"""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    room, members, _ = request.as_member(command.room_id)
    room, members = request.current_members(room, members)
    for event in rules.members_events(room, members):
        request.reply(event)
