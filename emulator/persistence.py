"""``serve --state-dir``: the stack's tables kept across restarts.

:class:`Persistence` locks and reads the state directory, gates the control plane's
DynamoDB so that a snapshot is one moment (:class:`~emulator.snapshot.Gate`), puts the
saved tables back after deploy, and saves them while the stack serves and when it stops
(:class:`~emulator.snapshot.Saver`). The files themselves are :mod:`emulator.state`'s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from emulator.controlplane import ControlPlane
from emulator.snapshot import Gate, Saver
from emulator.stack import Stack
from emulator.state import Restored, SavedState

log = logging.getLogger("emulator.harness")


class Persistence:
    """One stack's saved tables in ``saved_state``'s directory."""

    def __init__(self, saved_state: SavedState) -> None:
        self.saved_state = saved_state
        self._gate: Gate | None = None
        self._saver: Saver | None = None
        self._saved_tables: tuple[str, ...] = ()  # every table saved since the start

    async def open(self, control_plane: ControlPlane, fresh: bool) -> None:
        """Lock the state directory and read it; gate the control plane's DynamoDB."""
        await asyncio.to_thread(self.saved_state.open, fresh)
        self._gate = Gate()
        control_plane.add_middleware(self._gate.middleware)

    async def restore(self, stack: Stack, dynamodb: Any) -> Restored:
        """Put back the saved tables the stack has (just deployed, so empty)."""
        names = [stack.table_name(table) for table in stack.tables]
        self._saved_tables = tuple(sorted({*self._saved_tables, *names}))
        return await asyncio.to_thread(self.saved_state.restore, dynamodb, names)

    async def start_saving(self, sts: Any, region: str) -> None:
        """Only a stack that started saves: a failed start leaves the saved state as it was."""
        assert self._gate is not None
        account = (await asyncio.to_thread(sts.get_caller_identity))["Account"]
        self._saver = Saver(
            self.saved_state,
            self._gate,
            account,
            region,
            lambda: self._saved_tables,
        )
        self._saver.start()

    async def close(self) -> None:
        """Save one last time (if saving started), then let the directory go."""
        if self._saver is not None:
            try:
                await self._saver.close()
            except Exception as exc:  # whatever it was, the rest must still stop
                log.error(
                    "could not save the tables to %s (%s): the previous snapshot is kept",
                    self.saved_state.directory,
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
        self.saved_state.close()
