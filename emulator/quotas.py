"""API Gateway's quotas and throttles, as the gateway emulator applies them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """API Gateway's quotas, and the emulator's bounds per connection; tests shorten them."""

    message_bytes: int = 128 * 1024
    frame_bytes: int = 32 * 1024  # larger messages arrive as several frames
    idle_timeout: float = 10 * 60
    lifetime: float = 2 * 60 * 60
    # What may wait to be sent to one client that reads slowly; past it, posts are refused
    # with LimitExceededException ("the WebSocket client side buffer is full", as AWS
    # documents that error) until the client catches up.
    outbox_bytes: int = 8 * 1024 * 1024
    # A connection's frames received and not yet answered (waiting for a worker or being
    # run), and their size: past either, the gateway reads nothing more from that
    # connection until one is done, so its client waits (TCP's own flow control). The
    # emulator's choice, to bound its memory: AWS documents no such limit.
    queued_frames: int = 32
    queued_bytes: int = 1024 * 1024


class TokenBucket:
    """API Gateway's throttle: ``burst`` tokens, refilled at ``rate`` a second."""

    def __init__(
        self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend a token if there is one; False means throttle this request."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
