"""``rename``: the caller takes a new display name, without reconnecting.

Every open connection of the user takes it (so every tab, and the messages each sends
from now on), and so does each of the user's memberships; each room where the user is
approved or pending gets a new member list. Past messages keep the name they were sent
under. Each rename is numbered on the user's own item, and every write of the name is
conditional on not overwriting a later rename's: two renames at once end with the later
one everywhere.

A user may be in many rooms: their memberships are renamed and announced a few at a
time, concurrently, so that the cost in time grows with rooms / ``PARALLEL_ROOMS``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chat import rules
from chat.app import Request, route
from chat.rules import Member

PARALLEL_ROOMS = 8


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_rename(payload)
    user_id = request.caller().user_id
    rename = request.store.rename_user(user_id, command.name)
    request.store.rename_connections(user_id, command.name, rename)

    def rename_in(membership: Member) -> None:
        renamed = request.store.rename_member(membership, command.name, rename)
        if renamed and rules.is_listed(membership):
            request.announce_members(membership.room_id)

    with ThreadPoolExecutor(PARALLEL_ROOMS, thread_name_prefix="rename") as rooms:
        list(rooms.map(rename_in, request.store.memberships(user_id)))  # raises what failed
    event = {"type": "renamed", "name": command.name}
    request.reply(event)
    others = request.store.user_connections(user_id) - {request.connection_id}
    request.send([], event, to=others)  # the user's other tabs
