"""What the inspector page can do: send a frame as a connection, disconnect one, replay.

Each action goes through the data plane's own doors, so what follows is what would
follow on AWS: a sent frame is routed and invokes its route's function as the client's
own would; a disconnect closes the socket as ``DELETE @connections`` does (the client
gets 1000 and ``$disconnect`` runs); a replay invokes the function again with the
event it received (posts it makes go to whichever connections are still open).
"""

from __future__ import annotations

import copy
from typing import Any

from emulator.connections import Gone
from emulator.gateway import Gateway
from emulator.inspector.record import Record
from emulator.runner import InvocationError, LambdaRunner


class ActionError(Exception):
    """The action can't be done; the message says why, for the page to show."""


class Actions:
    """The inspector's actions on ``gateway`` and ``runner``, recorded in ``record``."""

    def __init__(self, record: Record, gateway: Gateway, runner: LambdaRunner) -> None:
        self.record = record
        self.gateway = gateway
        self.runner = runner

    def send(self, connection_id: str, data: str) -> None:
        """Take ``data`` as a message from that connection's client."""
        if not isinstance(data, str) or not data:
            raise ActionError("write the message to send")
        try:
            self.gateway.receive(connection_id, data)
        except Gone:
            raise ActionError(f"connection {connection_id} is closed") from None

    async def disconnect(self, connection_id: str) -> None:
        """Close the connection as ``DELETE @connections`` does."""
        try:
            await self.gateway.close(connection_id)
        except Gone:
            raise ActionError(f"connection {connection_id} is already closed") from None

    async def replay(self, seq: int) -> dict[str, Any]:
        """Invoke invocation ``seq``'s function again with its event; what it returned."""
        original = self.record.invocation(seq)
        if original is None:
            raise ActionError(f"invocation {seq} is no longer in the history")
        if original.event is None:
            raise ActionError(f"invocation {seq}'s event was too large to keep")
        if original.function not in self.runner.functions:
            raise ActionError(f"function {original.function} is no longer deployed")
        event = copy.deepcopy(original.event)
        self.record.replaying(event, seq)
        try:
            result = await self.runner.invoke(original.function, event)
        except InvocationError as exc:
            return {"outcome": exc.kind, "error": exc.detail}
        return {"outcome": "success", "result": result}
