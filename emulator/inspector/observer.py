"""What the data plane tells an observer (the inspector's record), at a handful of points.

The gateway, the ``@connections`` API and the runner each hold ``observer: Observer |
None`` (None unless the harness sets one) and call it where something happens. Calls are
synchronous, on the gateway's event loop, and must be cheap: an observer records and
returns; it never waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from emulator.events import ConnectionInfo


class Observer(Protocol):
    # The gateway.
    def connected(self, info: ConnectionInfo) -> None: ...

    def frame_in(self, connection_id: str, data: str, route: str | None, request_id: str) -> None:
        """A client's message, and the route it selected (None: none did)."""

    def frame_out(self, connection_id: str, data: str | bytes, kind: str) -> None:
        """A message queued for a client: ``post``, ``reply`` or ``error``."""

    def disconnected(self, connection_id: str, code: int, reason: str) -> None: ...

    # The @connections API.
    def management_call(
        self, method: str, connection_id: str, status: int, size: int, client: object
    ) -> None:
        """A request answered; ``client`` is the TCP connection (stream) it came on."""

    # The runner.
    def invocation_started(
        self, function: str, request_id: str, trigger_id: str, event: Any, pid: int
    ) -> None: ...

    def invocation_output(self, pid: int, line: str) -> None:
        """A line the worker ``pid`` printed or logged."""

    def invocation_report(
        self, request_id: str, duration_ms: float, memory_mb: int, max_memory_mb: int
    ) -> None: ...

    def invocation_ended(
        self, request_id: str, reply: Mapping[str, Any] | None, failure: BaseException | None
    ) -> None:
        """The worker's reply (``{"result": …}`` or ``{"error": …}``), or the failure."""
