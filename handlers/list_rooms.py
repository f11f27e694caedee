"""``listRooms``: who the caller is and their rooms; subscribes this connection to them.

Clients send it first on every (re)connection: from then on the connection gets its
rooms' events, and rooms where the user was offline see them come online. The rooms
come most recently active first, each readable one with its newest entry.

A user may be in many rooms, and each room costs round trips (attaching the
connection, the newest entry, and telling the room when the user came online): the
rooms are worked on a few at a time (``app.in_parallel``), and a room hears of the
connection only when the user comes online there. The time grows with rooms /
``PARALLEL_ROOMS``.
"""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, in_parallel, route
from chat.rules import Member, Message, Status


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    caller = request.caller()
    connection_id = request.connection_id
    memberships = request.store.memberships(caller.user_id)
    request.store.subscribe(connection_id)

    def catch_up(member: Member) -> Message | None:
        """Attach the connection to one membership; the room's newest entry if readable."""
        if member.status is not Status.REJECTED and connection_id not in member.connections:
            before = request.store.attach(
                member.room_id, caller.user_id, connection_id, caller.name
            )
            if before is not None and rules.is_listed(before) and not before.online:
                request.announce_members(member.room_id, exclude=[connection_id])
        # One Query of one item per room the caller may read: the preview and its activity.
        if member.status is Status.APPROVED:
            return request.store.last_message(member.room_id)
        return None

    newest = in_parallel(catch_up, memberships)
    last = {m.room_id: entry for m, entry in zip(memberships, newest, strict=True) if entry}
    rooms = rules.room_list(memberships, last)
    request.reply({"type": "rooms", "userId": caller.user_id, "name": caller.name, "rooms": rooms})
