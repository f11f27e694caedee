"""``$connect``: bind the connection to the user its key names.

Nothing is posted and the connection joins no room's fan-out here: until the upgrade
completes, API Gateway answers posts to it with 410, which would read as "gone".
The client's first ``listRooms`` subscribes it (see ``list_rooms``).

A user may hold ``max_connections_per_user`` connections at once. At the cap, the
records of the user's connections are checked with API Gateway first (``GET
@connections``): one whose ``$disconnect`` was lost doesn't count against the user.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.errors import ChatError

CONNECTION_LIFETIME_SECONDS = 2 * 60 * 60  # API Gateway closes a connection after 2 h


@app.lifecycle
def handler(request: Request) -> dict[str, Any]:
    try:
        identity = rules.parse_connect(request.event.query)
    except ChatError as error:
        app.log.info("connect refused: %s", error.message)
        return {"statusCode": 400, "body": error.message}
    cap = request.limits.max_connections_per_user
    held = [c.connection_id for c in request.store.open_connections(identity.user_id)]
    if len(held) >= cap:
        gone = request.fanout.gone(held)
        for connection_id in sorted(gone):
            request.disconnected(connection_id)
        if len(held) - len(gone) >= cap:
            app.log.info("connect refused: %s holds %d connections", identity.user_id, cap)
            return {
                "statusCode": 429,
                "body": f"you have {cap} connections open, the most allowed; close one first",
            }
    request.store.put_connection(
        request.connection_id,
        identity,
        connected_at=request.now(),
        expires_at=app.epoch_seconds() + CONNECTION_LIFETIME_SECONDS,
    )
    return app.OK
