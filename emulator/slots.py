"""A function's workers in use, at most so many: a semaphore that can also be taken
without waiting (:meth:`Slots.take_now`), for the runner's invocation that starts in
the caller's own loop step (:meth:`emulator.runner.LambdaRunner.invoke_now`)."""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    """At most ``limit`` taken at once; waiters are served first come, first served."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        """Take one if that needs no waiting (one is free and nobody waits before us)."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take one, waiting for it if need be."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed to us as we were cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give one back: to the first waiter still waiting, or to the free ones."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1
