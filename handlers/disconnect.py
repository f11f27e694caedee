"""``$disconnect``: forget the connection and tell rooms when their member went offline.

API Gateway sends this on a best-effort basis; broadcasts clean up what it misses.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request


@app.lifecycle
def handler(request: Request) -> dict[str, Any]:
    connection_id = request.connection_id
    connection = request.store.get_connection(connection_id)
    if connection is None:
        return app.OK
    request.store.delete_connection(connection_id)
    for member in request.store.memberships(connection.user_id):
        if connection_id not in member.connections:
            continue
        after = request.store.detach(member.room_id, member.user_id, connection_id)
        if after is not None and rules.is_listed(after) and not after.online:
            request.announce_members(member.room_id)
    return app.OK
