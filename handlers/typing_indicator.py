"""``typing``: tell the room's other members that the caller is typing.

Clients send it at most every few seconds while typing and show it for a few
seconds; nothing is stored.
"""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    caller = request.caller()
    room, members = request.store.load_room(command.room_id)
    typist = rules.require_approved(members, caller.user_id)
    notice = {
        "type": "typing",
        "roomId": room.room_id,
        "userId": caller.user_id,
        "name": caller.name,
    }
    request.broadcast(room, members, notice, exclude=typist.connections | {request.connection_id})
