"""``typing``: tell the room's other members that the caller is typing.

Clients send it at most every few seconds while typing and show it for a few
seconds; nothing is stored, so nothing is conditional: the room is read once, and the
event goes to the approved members of that read if the caller is one of them. It can
reach someone after a removal that committed after the read (docs/protocol.md §6 says
exactly what clients do about it).
"""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    room, members, typist = request.as_member(command.room_id)
    caller = request.caller()  # cached: the name this connection signed in with
    notice = {
        "type": "typing",
        "roomId": room.room_id,
        "userId": caller.user_id,
        "name": caller.name,
    }
    request.broadcast(members, notice, exclude=typist.connections | {request.connection_id})
