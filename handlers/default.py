"""``$default``: anything that matched no route. Says what was wrong and what is valid."""

from __future__ import annotations

from typing import Any

from chat import rules
from chat.app import Request, route
from chat.errors import UnknownAction


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    action = payload.get("action")
    valid = list(rules.ACTIONS)
    if action is None:
        raise UnknownAction("the message has no action", validActions=valid)
    raise UnknownAction(f"unknown action {action!r}", validActions=valid)
