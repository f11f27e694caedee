"""The ``websocket_api`` fixture's object: a deployed, served WebSocket API, as a test sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The harness (moto, boto3) is imported when a test first asks for it, not when pytest
# loads the plugin: every pytest run of a project that has the package installed does.
if TYPE_CHECKING:
    from emulator.deploy import Outputs
    from emulator.harness import Harness
    from emulator.inspector.record import (
        CallEntry,
        ConnectionEntry,
        FrameEntry,
        InvocationEntry,
        Snapshot,
    )


class WebSocketApi:
    """A deployed, served WebSocket API, as a test sees it.

    ``log(function)`` is what a function logged since this test began; ``connections``,
    ``frames(connection)``, ``invocations(route=…)`` and ``calls()`` are what the
    inspector recorded since then (its bounded history; see
    :mod:`emulator.inspector.record`). The harness itself (gateway, runner, target) is
    ``harness``, for what this doesn't cover.
    """

    def __init__(self, harness: Harness, logical_tables: Mapping[str, str] | None = None) -> None:
        assert harness.outputs is not None
        assert harness.target is not None
        self.harness = harness
        self.outputs: Outputs = harness.outputs
        # ws://127.0.0.1:<port>/<stage>; a LocalStack that serves the API itself: its URL.
        self.url: str = harness.gateway.url if harness.gateway else harness.outputs.websocket_url
        stack = harness.stack
        # Each function's deployed name, by its name in the stack (a template's logical id).
        self.functions = {f.name: stack.function_name(f) for f in stack.all_functions}
        # Table names by the variable that carries them, by name, and by logical id.
        self.tables: dict[str, str] = {**harness.outputs.tables, **(logical_tables or {})}
        self._since = {name: self._size(name) for name in self.functions.values()}
        self._record_since = harness.record.seq if harness.record is not None else 0

    def __repr__(self) -> str:
        return f"WebSocketApi(url={self.url!r}, stack={self.harness.stack.name!r})"

    @property
    def stage(self) -> str:
        return self.outputs.stage

    @property
    def region(self) -> str:
        return self.outputs.region

    @property
    def endpoint_url(self) -> str:
        """The embedded AWS endpoint (DynamoDB, S3, Lambda, …) for any client."""
        return self.harness.control_plane_url

    @property
    def credentials(self) -> tuple[str, str]:
        """The access key id and secret of this harness's account."""
        assert self.harness.target is not None
        return self.harness.target.access_key

    @property
    def connections_url(self) -> str | None:
        """The ``@connections`` endpoint as functions see it: ``https://{apiId}.execute-api…``."""
        gateway = self.harness.gateway
        return gateway.management_endpoint if gateway is not None else None

    @property
    def website_url(self) -> str | None:
        return self.harness.website.url if self.harness.website is not None else None

    @property
    def outputs_path(self) -> Path | None:
        """Deploy's outputs as JSON, for tools outside Python."""
        return self.harness.settings.outputs_path

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this harness's account of the embedded AWS."""
        assert self.harness.target is not None
        return self.harness.target.client(service)

    def function_name(self, function: str) -> str:
        """The deployed name of a function given by stack name, route key or deployed name."""
        name = self.functions.get(function) or self.outputs.functions.get(function) or function
        if name not in self._since:
            raise KeyError(
                f"no function {function!r}; the stack has {', '.join(sorted(self.functions))}"
            )
        return name

    def log_path(self, function: str) -> Path:
        """The function's whole log file (START/END/REPORT lines, output, errors)."""
        return self.harness.log_dir / f"{self.function_name(function)}.log"

    def log(self, function: str) -> str:
        """What the function logged since this test began."""
        name = self.function_name(function)
        path = self.log_path(name)
        if not path.is_file():
            return ""
        with path.open("rb") as file:
            file.seek(self._since[name])
            return file.read().decode(errors="replace")

    def logs(self) -> dict[str, str]:
        """What each function that logged since this test began logged, by its stack name."""
        texts = {name: self.log(name) for name in self.functions}
        return {name: text for name, text in texts.items() if text}

    def _snapshot(self) -> Snapshot:
        """The record since this test began, copied on the harness's own event loop."""
        record = self.harness.record
        if record is None:
            raise RuntimeError("this harness keeps no record (HarnessSettings(record=False))")
        loop = self.harness.loop
        since = self._record_since
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return record.snapshot(since)

        async def copy() -> Snapshot:
            return record.snapshot(since)

        return asyncio.run_coroutine_threadsafe(copy(), loop).result(timeout=30)

    @property
    def connections(self) -> list[ConnectionEntry]:
        """The connections opened since this test began, oldest first (open or closed)."""
        return self._snapshot().connections

    def frames(self, connection: str | None = None) -> list[FrameEntry]:
        """Messages in and out (of one connection, by id) since this test began, in order."""
        return [
            f
            for f in self._snapshot().frames
            if connection is None or f.connection_id == connection
        ]

    def invocations(
        self,
        route: str | None = None,
        function: str | None = None,
        connection: str | None = None,
    ) -> list[InvocationEntry]:
        """Invocations since this test began, oldest first: of a route, of a function
        (stack name, route key or deployed name) or for a connection. One still running
        has ``outcome == "running"``."""
        name = self.function_name(function) if function is not None else None
        return [
            i
            for i in self._snapshot().invocations
            if (route is None or i.route == route)
            and (name is None or i.function == name)
            and (connection is None or i.connection_id == connection)
        ]

    def calls(
        self, connection: str | None = None, by: InvocationEntry | None = None
    ) -> list[CallEntry]:
        """``@connections`` requests since this test began: to one connection (by id), or
        made by one invocation."""
        return [
            c
            for c in self._snapshot().calls
            if (connection is None or c.connection_id == connection)
            and (by is None or c.invocation == by.seq)
        ]

    def _size(self, name: str) -> int:
        path = self.harness.log_dir / f"{name}.log"
        return path.stat().st_size if path.is_file() else 0
