"""Test timeouts: multiples of one unit that ``CHAT_TEST_TIMEOUT_UNIT`` can scale."""

from __future__ import annotations

import os

UNIT = float(os.environ.get("CHAT_TEST_TIMEOUT_UNIT", "1"))


def seconds(n: float) -> float:
    return n * UNIT
