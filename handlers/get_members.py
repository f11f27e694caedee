"""``getMembers``: the room's member list, for its approved members."""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    room, members, _ = request.as_member(command.room_id)
    request.reply(rules.members_event(room, members))
