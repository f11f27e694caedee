"""Test timeouts: multiples of one unit that ``CHAT_TEST_TIMEOUT_UNIT`` can scale."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

UNIT = float(os.environ.get("CHAT_TEST_TIMEOUT_UNIT", "1"))


def seconds(n: float) -> float:
    return n * UNIT


def settles(condition: Callable[[], object], timeout: float = 10) -> bool:
    """Whether ``condition`` holds before the deadline (polled, never a fixed sleep)."""
    deadline = time.monotonic() + seconds(timeout)
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
