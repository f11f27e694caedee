"""Fair shares of each function's workers among the connections that wait for them.

The runner has a few workers per function (8); on AWS, Lambda would scale out instead.
Handed out first come, first served, one connection's thousands of frames would hold
every worker while everyone else's frame waits behind them all. So a frame waits for
its turn among *connections* ("flows"), not among frames:

- each flow waiting for a function has its own line of invocations, served in order;
- a flow with a *backlog* (an invocation asked for while another of the same flow was
  still running or waiting) takes turns with the other backlogged flows, one
  invocation each (round robin);
- all the backlogged flows together hold at most ``backlog_workers`` workers (a quarter
  of them: 2 of 8). The others are kept for flows that had nothing running or waiting
  (sparse flows, as FQ-CoDel calls them): someone who sends now and then finds a free
  worker at once, whatever the floods, and goes first if every worker is busy.

So workers may stay free while backlogs wait: the price of a free worker for the next
sparse flow, and a small one here, since the embedded DynamoDB serves one request at a
time: more invocations at once add waiting there, not throughput. A sparse flow's
invocation runs beside a few others, not beside seven floods. A flow that asks again
while its first invocation still waits has a backlog from then on, so many clients
that begin at once don't all stay first in line. Pure asyncio, no I/O: the gateway
asks for a :meth:`FairScheduler.turn` around each invocation.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

BACKLOG_SHARE = 4  # the backlogged flows share one worker in 4 (at least one)


def backlog_workers(workers: int) -> int:
    """How many of ``workers`` the flows with a backlog may hold together."""
    return max(1, workers // BACKLOG_SHARE)


@dataclass
class _Function:
    """One function's workers: how many are busy, for whom, and who waits for them."""

    workers: int
    busy: int = 0
    backlog_busy: int = 0  # of which for flows with a backlog
    flows: Counter[str] = field(default_factory=Counter)  # invocations running or waiting
    lines: dict[str, deque[asyncio.Future[bool]]] = field(default_factory=dict)
    new: deque[str] = field(default_factory=deque)  # flows that had nothing waiting
    old: deque[str] = field(default_factory=deque)  # flows with a backlog, in turn

    @property
    def backlog_workers(self) -> int:
        return backlog_workers(self.workers)


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
        granted = asyncio.get_running_loop().create_future()
        line = state.lines.get(flow)
        if line is None:
            line = state.lines[flow] = deque()
            # Nothing of this flow's running or waiting: a sparse flow, served first.
            (state.old if state.flows[flow] else state.new).append(flow)
        elif flow in state.new:
            # A second invocation while its first still waits: it has a backlog now
            # (so 30 clients that all begin at once don't each stay "new" for seconds).
            state.new.remove(flow)
            state.old.append(flow)
        line.append(granted)
        state.flows[flow] += 1
        self._grant(state)
        try:
            backlog = await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release(state, flow, granted.result())  # granted as it was cancelled
            else:
                self._forget(state, flow, granted)
            raise
        try:
            yield
        finally:
            self._release(state, flow, backlog)

    def _grant(self, state: _Function) -> None:
        """Hand out the free workers: sparse flows first, then the backlogged flows in
        turn, as long as those hold fewer than their share."""
        while state.busy < state.workers:
            if state.new:
                flow, backlog = state.new.popleft(), False
            elif state.old and state.backlog_busy < state.backlog_workers:
                flow, backlog = state.old.popleft(), True
            else:
                return
            line = state.lines[flow]
            granted = line.popleft()
            if line:
                state.old.append(flow)  # its next invocation waits for its next turn
            else:
                del state.lines[flow]
            if granted.cancelled():
                continue  # its task is being cancelled: it leaves by _forget
            granted.set_result(backlog)
            state.busy += 1
            state.backlog_busy += backlog

    def _release(self, state: _Function, flow: str, backlog: bool) -> None:
        state.busy -= 1
        state.backlog_busy -= backlog
        self._done(state, flow)
        self._grant(state)

    def _done(self, state: _Function, flow: str) -> None:
        """One of ``flow``'s invocations ran or gave up."""
        state.flows[flow] -= 1
        if not state.flows[flow]:
            del state.flows[flow]

    def _forget(self, state: _Function, flow: str, granted: asyncio.Future[bool]) -> None:
        """A waiter that gave up (its task was cancelled) leaves its line."""
        self._done(state, flow)
        line = state.lines.get(flow)
        if line is None or granted not in line:
            return  # already taken out of its line by _grant
        line.remove(granted)
        if not line:
            del state.lines[flow]
            for flows in (state.new, state.old):
                if flow in flows:
                    flows.remove(flow)
