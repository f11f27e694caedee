"""``listRooms``: who the caller is and every room they belong to or asked to join."""

from __future__ import annotations

from typing import Any

from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    caller = request.caller()
    rooms = [
        {"roomId": m.room_id, "name": m.room_name, "role": m.role.value, "status": m.status.value}
        for m in request.store.memberships(caller.user_id)
    ]
    request.reply({"type": "rooms", "userId": caller.user_id, "name": caller.name, "rooms": rooms})
