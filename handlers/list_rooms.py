"""``listRooms``: who the caller is and their rooms; subscribes this connection to them.

Clients send it first on every (re)connection: from then on the connection gets its
rooms' events, and rooms where the user was offline see them come online. The rooms
come most recently active first, each readable one with its newest entry.
"""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route
from chat.rules import Status


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    caller = request.caller()
    connection_id = request.connection_id
    memberships = request.store.memberships(caller.user_id)
    request.store.subscribe(connection_id)
    for member in memberships:
        if member.status is Status.REJECTED or connection_id in member.connections:
            continue
        request.store.attach(member.room_id, caller.user_id, connection_id, caller.name)
        if rules.is_listed(member) and not member.online:
            request.announce_members(member.room_id, exclude=[connection_id])
    # One Query of one item per room the caller may read: the preview and its activity.
    last = {
        m.room_id: message
        for m in memberships
        if m.status is Status.APPROVED
        and (message := request.store.last_message(m.room_id)) is not None
    }
    rooms = rules.room_list(memberships, last)
    request.reply({"type": "rooms", "userId": caller.user_id, "name": caller.name, "rooms": rooms})
