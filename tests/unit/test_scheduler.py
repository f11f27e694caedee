"""The fair scheduler: each function's workers shared by connection, never left idle."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulator.scheduler import FairScheduler, backlog_workers


class Jobs:
    """Invocations that hold their worker until released; records the order they start."""

    def __init__(self, scheduler: FairScheduler, function: str = "f") -> None:
        self.scheduler = scheduler
        self.function = function
        self.started: list[str] = []
        self.running = 0
        self.most_running = 0
        self._release: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def _job(self, flow: str, name: str) -> None:
        async with self.scheduler.turn(self.function, flow):
            self.started.append(name)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            try:
                await self._release[name].wait()
            finally:
                self.running -= 1

    async def submit(self, flow: str, name: str) -> None:
        self._release[name] = asyncio.Event()
        self.tasks[name] = asyncio.create_task(self._job(flow, name))
        await asyncio.sleep(0)  # let it reach the scheduler

    async def finish(self, name: str) -> None:
        self._release[name].set()
        await self.tasks[name]
        await asyncio.sleep(0)

    async def finish_all(self) -> None:
        while unfinished := [n for n in self.started if not self.tasks[n].done()]:
            for name in unfinished:
                await self.finish(name)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on a thread of its own: in a whole session, the browser tests' Playwright holds
    the main thread's event loop."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()


def test_a_function_never_runs_more_than_its_workers() -> None:
    """Twenty invocations on two workers: two at a time, and all of them in the end."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=2))
        for n in range(20):
            await jobs.submit(f"c{n % 3}", f"j{n}")
        assert len(jobs.started) == 2
        assert jobs.scheduler.waiting("f") == 18
        await jobs.finish_all()
        assert len(jobs.started) == 20
        assert jobs.most_running == 2
        assert jobs.scheduler.busy("f") == 0

    run(scenario())


def test_a_flooding_connection_does_not_keep_the_others_waiting() -> None:
    """A connection with 50 waiting frames; another's one frame runs as soon as one of
    the flood's ends, before the flood's next."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=2))
        for n in range(52):
            await jobs.submit("flood", f"flood{n}")
        await jobs.submit("bystander", "hello")
        assert jobs.started == ["flood0", "flood1"]
        await jobs.finish("flood0")
        await jobs.finish("flood1")
        assert jobs.started == ["flood0", "flood1", "hello", "flood2"]
        await jobs.finish_all()

    run(scenario())


def test_backlogs_hold_a_quarter_of_the_workers_and_a_newcomer_runs_at_once() -> None:
    """Three connections with 20 frames each on 8 workers: each runs its first frame, and
    their backlogs 2 more between them; a fourth connection's frame starts at once; the
    backlogs never run more than 2 together."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=8))
        for flow in "abc":
            for n in range(20):
                await jobs.submit(flow, f"{flow}{n}")
        # a's backlog came first and took the backlogs' share; b and c wait for it.
        assert jobs.started == ["a0", "a1", "a2", "b0", "c0"]
        assert jobs.scheduler.busy("f") == 3 + backlog_workers(8) == 5
        await jobs.submit("d", "d0")
        assert jobs.started[-1] == "d0"
        for name in ("a0", "b0", "c0", "d0"):
            await jobs.finish(name)
        assert jobs.scheduler.busy("f") == 2  # the free workers wait for newcomers
        await jobs.finish_all()
        assert len(jobs.started) == 61
        assert jobs.most_running == 6
        assert jobs.scheduler.busy("f") == 0

    run(scenario())


def test_backlogged_connections_take_turns() -> None:
    """Two connections with backlogs on one worker alternate, one invocation each (the
    first to wait goes first)."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=1))
        for n in range(4):
            await jobs.submit("a", f"a{n}")
        for n in range(4):
            await jobs.submit("b", f"b{n}")
        await jobs.finish_all()
        assert jobs.started == ["a0", "a1", "b0", "a2", "b1", "a3", "b2", "b3"]

    run(scenario())


def test_a_connection_that_sends_now_and_then_goes_before_the_backlogs() -> None:
    """Three connections with backlogs; a fourth's single frame is served next."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=1))
        for flow in "abc":
            for n in range(4):
                await jobs.submit(flow, f"{flow}{n}")
        await jobs.finish("a0")
        await jobs.submit("d", "d0")
        await jobs.finish("a1")
        assert jobs.started == ["a0", "a1", "d0"]  # before b0, c0, a2, which have backlogs
        await jobs.finish_all()

    run(scenario())


def test_a_second_frame_while_the_first_waits_makes_a_backlog() -> None:
    """Many connections begin at once: those that send again while their first frame
    still waits join the backlogs; one that waits for its answer goes before them."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=1))
        await jobs.submit("a", "a0")  # running
        for flow in "bcd":
            await jobs.submit(flow, f"{flow}0")  # each waits, each "new"
        await jobs.submit("quiet", "q0")
        for flow in "bcd":
            await jobs.submit(flow, f"{flow}1")  # and now each has a backlog
        await jobs.finish("a0")
        assert jobs.started == ["a0", "q0"]
        await jobs.finish_all()
        assert jobs.started[2:] == ["b0", "c0", "d0", "b1", "c1", "d1"]

    run(scenario())


def test_functions_have_workers_of_their_own() -> None:
    """A backlog on one function doesn't delay another function's invocation."""

    async def scenario() -> None:
        scheduler = FairScheduler(workers=1)
        busy, other = Jobs(scheduler, "busy"), Jobs(scheduler, "other")
        for n in range(3):
            await busy.submit("a", f"a{n}")
        await other.submit("a", "x")
        assert other.started == ["x"]
        await other.finish_all()
        await busy.finish_all()

    run(scenario())


def test_a_cancelled_wait_leaves_the_line_and_frees_nothing_it_had_not() -> None:
    """A waiting invocation that is cancelled is skipped; the counts stay right."""

    async def scenario() -> None:
        jobs = Jobs(FairScheduler(workers=1))
        await jobs.submit("a", "a0")
        await jobs.submit("b", "b0")
        await jobs.submit("c", "c0")
        jobs.tasks["b0"].cancel()
        with pytest.raises(asyncio.CancelledError):
            await jobs.tasks["b0"]
        assert jobs.scheduler.waiting("f") == 1
        await jobs.finish("a0")
        assert jobs.started == ["a0", "c0"]
        await jobs.finish("c0")
        assert jobs.scheduler.busy("f") == 0
        await jobs.submit("d", "d0")  # a worker is free: at once
        assert jobs.started[-1] == "d0"
        await jobs.finish("d0")

    run(scenario())


def test_no_workers_is_refused() -> None:
    """A scheduler needs at least one worker per function."""
    with pytest.raises(ValueError, match="at least one worker"):
        FairScheduler(workers=0)


def test_a_limited_function_has_fewer_workers_than_the_others() -> None:
    """A debugged function's one worker: one invocation at a time, the others keep theirs."""

    async def scenario() -> None:
        scheduler = FairScheduler(workers=4)
        scheduler.limit("debugged", 1)
        debugged, other = Jobs(scheduler, "debugged"), Jobs(scheduler, "other")
        for n in range(3):
            await debugged.submit(f"c{n}", f"d{n}")
            await other.submit(f"c{n}", f"o{n}")
        assert (len(debugged.started), len(other.started)) == (1, 3)
        await debugged.finish_all()
        await other.finish_all()
        assert (debugged.most_running, len(debugged.started)) == (1, 3)
        with pytest.raises(ValueError, match="at least one worker"):
            scheduler.limit("debugged", 0)

    run(scenario())
