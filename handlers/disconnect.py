"""``$disconnect``: mark the connection closed and tell rooms when their member went
offline.

API Gateway sends this on a best-effort basis, and may send it while requests the
connection sent are still being served: the record stays (closed) until its TTL, so
they still know their caller. Broadcasts and probes clean up what it misses.
"""

from __future__ import annotations

from typing import Any

from chat import app
from chat.app import Request


@app.lifecycle
def handler(request: Request) -> dict[str, Any]:
    request.disconnected(request.connection_id)
    return app.OK
