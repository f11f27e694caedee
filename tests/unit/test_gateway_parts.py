"""The gateway's pure parts: the throttle's token bucket and the byte-bounded outbox."""

from __future__ import annotations

import pytest

from emulator.quotas import TokenBucket
from emulator.session import Outbox, OutboxFull


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    """Burst tokens at once, then one per 1/rate seconds; never more than the burst."""
    now = [0.0]
    bucket = TokenBucket(burst=3, rate=2.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token's worth at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # a long pause refills to the burst, not beyond
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_a_zero_rate_bucket_refuses_everything_after_its_burst() -> None:
    """Rate 0 and burst 0 throttle every request, as API Gateway's 0 limits do."""
    assert TokenBucket(burst=0, rate=0.0).take() is False


def test_outbox_counts_bytes_and_refuses_past_its_limit() -> None:
    """Posts are bounded by encoded bytes; the gateway's own replies always fit."""
    outbox = Outbox(limit=10)
    outbox.put(b"12345", text=True)
    outbox.put("é".encode() * 2, text=True)  # 4 bytes, not 2 characters
    assert outbox.queued == 9
    with pytest.raises(OutboxFull):
        outbox.put(b"xx", text=False)
    outbox.put_text('{"message": "Forbidden"}')
    assert outbox.queued == 9 + 24
