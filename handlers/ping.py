"""``ping``: answer ``pong`` to the caller, and nothing else.

A quiet connection is closed by API Gateway after 10 minutes without a frame from the
client; a client that pings keeps it open, and one that gets no ``pong`` knows its
socket is dead. It costs what every request costs (the rate counters, which also find
the caller) and no more. A connection the server already counts as closed (its record
marked, so it is attached to no room) is told to reconnect.
"""

from __future__ import annotations

from typing import Any

from chat.app import Request, route
from chat.errors import NotConnected


@route
def handler(request: Request, payload: dict[str, Any]) -> None:
    if request.caller().closed:
        raise NotConnected("this connection is closed; reconnect")
    request.reply({"type": "pong"})
