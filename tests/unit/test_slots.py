"""A function's slots: taken at once when free, else waited for in order."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulator.slots import Slots


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """On a thread of its own, as tests/unit/test_scheduler.py runs its scenarios."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()


def test_take_now_takes_only_a_free_slot() -> None:
    """take_now succeeds while a slot is free and fails once all are taken."""
    slots = Slots(2)
    assert slots.take_now()
    assert slots.take_now()
    assert not slots.take_now()
    slots.release()
    assert slots.take_now()


def test_a_released_slot_goes_to_the_first_waiter_not_to_take_now() -> None:
    """A waiter gets the released slot before anyone who asks without waiting."""

    async def scenario() -> None:
        slots = Slots(1)
        assert slots.take_now()
        order: list[str] = []

        async def wait(name: str) -> None:
            await slots.take()
            order.append(name)

        first = asyncio.create_task(wait("first"))
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0)
        slots.release()
        assert not slots.take_now()  # handed to the first waiter
        await first
        slots.release()
        await second
        assert order == ["first", "second"]
        slots.release()
        assert slots.free == 1

    _run(scenario())


def test_a_cancelled_waiter_leaves_and_keeps_nothing() -> None:
    """Cancelling a waiter, before or after its slot was handed over, leaks no slot."""

    async def scenario() -> None:
        slots = Slots(1)
        assert slots.take_now()
        waiter = asyncio.create_task(slots.take())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        slots.release()
        assert slots.free == 1
        assert slots.take_now()
        handed = asyncio.create_task(slots.take())
        await asyncio.sleep(0)
        slots.release()  # handed to the waiter, which is cancelled before it runs
        handed.cancel()
        await asyncio.gather(handed, return_exceptions=True)
        assert slots.free == 1

    _run(scenario())
