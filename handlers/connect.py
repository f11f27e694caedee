"""``$connect``: bind the connection to the user its key names, and resume their rooms."""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.errors import ChatError
from chat.rules import Status

CONNECTION_LIFETIME_SECONDS = 2 * 60 * 60  # API Gateway closes a connection after 2 h


@app.lifecycle
def handler(request: Request) -> dict[str, Any]:
    try:
        identity = rules.parse_connect(request.event.query)
    except ChatError as error:
        app.log.info("connect refused: %s", error.message)
        return {"statusCode": 400, "body": error.message}
    connection_id = request.connection_id
    request.store.put_connection(
        connection_id,
        identity,
        connected_at=app.now(),
        expires_at=app.epoch_seconds() + CONNECTION_LIFETIME_SECONDS,
    )
    for member in request.store.memberships(identity.user_id):
        if member.status is Status.REJECTED:
            continue
        request.store.attach(member.room_id, identity.user_id, connection_id, identity.name)
        if member.status is Status.APPROVED and not member.online:
            # Posting to this connection during $connect is 410 Gone: tell the others.
            request.announce_members(member.room_id, exclude=[connection_id])
    return app.OK
