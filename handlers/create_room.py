"""``createRoom``: a new room whose admin is the caller."""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import Member, Role, Room, Status


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_create_room(payload)
    caller = request.caller()
    created_at = request.now()
    room = Room(
        room_id=rules.new_room_id(),
        name=command.name,
        admin_id=caller.user_id,
        created_at=created_at,
        version=1,
    )
    admin = Member(
        room_id=room.room_id,
        user_id=caller.user_id,
        name=caller.name,
        role=Role.ADMIN,
        status=Status.APPROVED,
        requested_at=created_at,
        room_name=room.name,
        connections=request.store.user_connections(caller.user_id) | request.own_connection(),
    )
    request.store.create_room(room, admin)
    created = {"type": "roomCreated", "room": rules.room_view(room, admin)}
    request.reply(created)
    # The creator's other tabs learn of the room too.
    request.send([admin], created, to=admin.connections - {request.connection_id})
    request.announce_members(room.room_id)
