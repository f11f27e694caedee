"""``getHistory``: a page of a room's messages, newest page first, for its members."""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_get_history(payload)
    request.as_member(command.room_id)
    messages, more = request.store.messages(command.room_id, command.before, command.limit)
    request.reply(rules.history_event(command.room_id, messages, command.before, more))
