"""Fair shares of each function's workers among the connections that wait for them.

The runner has a few workers per function (8); on AWS, Lambda would scale out instead.
Handed out first come, first served, one connection's thousands of frames would hold
every worker while everyone else's frame waits behind them all. So a frame waits for
its turn among *connections* ("flows"), not among frames:

- each flow waiting for a function has its own line of invocations, served in order;
- a worker that frees up goes to the next flow in turn, one invocation each (round
  robin), so a flow with a backlog gets one worker in as many as there are waiting
  flows, and never all of them while others wait;
- a flow that had nothing waiting goes before the flows with a backlog (as sparse flows
  do in FQ-CoDel): a user who sends now and then waits for one invocation to end, not
  for a round of every flooding connection.

No worker is ever kept idle while an invocation waits. Pure asyncio, no I/O: the
gateway asks for a :meth:`FairScheduler.turn` around each invocation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Function:
    """One function's workers: how many are busy, and who waits for them."""

    workers: int
    busy: int = 0
    lines: dict[str, deque[asyncio.Future[None]]] = field(default_factory=dict)
    new: deque[str] = field(default_factory=deque)  # flows that had nothing waiting
    old: deque[str] = field(default_factory=deque)  # flows with a backlog, in turn


class FairScheduler:
    """At most ``workers`` invocations of each function at once, shared fairly by flow."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a function needs at least one worker")
        self.workers = workers
        self._functions: dict[str, _Function] = {}
        self._fewer: dict[str, int] = {}  # functions with fewer workers (a debugged one: 1)

    def limit(self, function: str, workers: int) -> None:
        """``function`` has only ``workers`` workers (a debugged function has one)."""
        if workers < 1:
            raise ValueError("a function needs at least one worker")
        self._fewer[function] = min(workers, self.workers)
        state = self._functions.get(function)
        if state is not None:
            state.workers = self._fewer[function]

    def waiting(self, function: str) -> int:
        """How many invocations of ``function`` wait for a worker."""
        state = self._functions.get(function)
        return sum(len(line) for line in state.lines.values()) if state else 0

    def busy(self, function: str) -> int:
        """How many of ``function``'s workers are running an invocation."""
        state = self._functions.get(function)
        return state.busy if state else 0

    @asynccontextmanager
    async def turn(self, function: str, flow: str) -> AsyncIterator[None]:
        """Hold one of ``function``'s workers for ``flow`` (a connection id) inside."""
        state = self._functions.get(function)
        if state is None:
            workers = self._fewer.get(function, self.workers)
            state = self._functions[function] = _Function(workers)
        if state.busy < state.workers and not state.lines:
            state.busy += 1
        else:
            granted = asyncio.get_running_loop().create_future()
            line = state.lines.get(flow)
            if line is None:
                line = state.lines[flow] = deque()
                state.new.append(flow)
            line.append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._release(state)  # granted as it was cancelled: pass it on
                else:
                    self._forget(state, flow, granted)
                raise
        try:
            yield
        finally:
            self._release(state)

    def _release(self, state: _Function) -> None:
        state.busy -= 1
        while state.busy < state.workers and (state.new or state.old):
            flow = (state.new or state.old).popleft()
            line = state.lines[flow]
            granted = line.popleft()
            if line:
                state.old.append(flow)  # its next invocation waits for its next turn
            else:
                del state.lines[flow]
            if not granted.done():
                granted.set_result(None)
                state.busy += 1

    def _forget(self, state: _Function, flow: str, granted: asyncio.Future[None]) -> None:
        """A waiter that gave up (its task was cancelled) leaves its line."""
        line = state.lines.get(flow)
        if line is None or granted not in line:
            return
        line.remove(granted)
        if not line:
            del state.lines[flow]
            for flows in (state.new, state.old):
                if flow in flows:
                    flows.remove(flow)
