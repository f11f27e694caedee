"""``getRoom``: what a room is called, for someone who holds its id and may ask to join."""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_room_ref(payload)
    request.caller()  # any registered connection may ask
    room, members = request.store.load_room(command.room_id)
    request.reply(rules.room_info_event(room, members))
