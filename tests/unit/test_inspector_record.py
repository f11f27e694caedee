"""The inspector's record, pure: what it keeps of connections, frames, invocations and calls."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.events import ConnectionInfo
from emulator.inspector.record import (
    BILLING_UNIT,
    Entry,
    Record,
    RecordLimits,
    billing_units,
)
from emulator.runner import InvocationError


def info(connection_id: str, at: int = 1_000) -> ConnectionInfo:
    return ConnectionInfo(
        connection_id=connection_id,
        api_id="abc",
        stage="test",
        domain_name="abc.execute-api.us-east-1.amazonaws.com",
        connected_at=at,
        source_ip="127.0.0.1",
        user_agent="tests",
        headers=[("Host", "localhost")],
        query=[("name", "ann")],
    )


def message(connection_id: str, body: str = "{}", route: str = "echo") -> dict[str, Any]:
    return {
        "requestContext": {"routeKey": route, "connectionId": connection_id},
        "body": body,
    }


@pytest.mark.parametrize(
    ("size", "units"),
    [(0, 1), (1, 1), (BILLING_UNIT, 1), (BILLING_UNIT + 1, 2), (128 * 1024, 4)],
)
def test_billing_units_are_32_kb_steps(size: int, units: int) -> None:
    """API Gateway meters a message in 32 KB steps, at least one."""
    assert billing_units(size) == units


def test_a_connection_counts_its_frames_bytes_and_units_both_ways() -> None:
    """In and out are counted apart; a 40 KB message is two units; the close is kept."""
    record = Record()
    record.connected(info("c1"))
    record.frame_in("c1", "x" * (40 * 1024), "echo", "req-1")
    record.frame_out("c1", b"hello", "post")
    record.frame_out("c1", "é", "reply")  # two bytes in UTF-8
    record.disconnected("c1", 1001, "Going away")
    (connection,) = record.connections()
    assert (connection.frames_in, connection.bytes_in, connection.units_in) == (1, 40960, 2)
    assert (connection.frames_out, connection.bytes_out, connection.units_out) == (2, 7, 2)
    assert (connection.close_code, connection.close_reason, connection.open) == (
        1001,
        "Going away",
        False,
    )
    frames = record.frames("c1")
    assert [(f.direction, f.kind, f.route) for f in frames] == [
        ("in", "message", "echo"),
        ("out", "post", None),
        ("out", "reply", None),
    ]
    assert frames[0].request_id == "req-1"


def test_history_is_bounded_by_count_and_bytes() -> None:
    """Old frames, closed connections and invocations give way; open connections stay."""
    limits = RecordLimits(
        closed_connections=2, frames=3, frame_bytes=10, frame_preview=4, invocations=2, calls=2
    )
    record = Record(limits)
    record.connected(info("open"))
    for n in range(5):
        record.connected(info(f"c{n}"))
        record.disconnected(f"c{n}", 1000, "")
    assert [c.id for c in record.connections()] == ["open", "c3", "c4"]
    for n in range(5):
        record.frame_in("open", f"{n}23456789", None, f"r{n}")
    frames = record.frames()
    assert len(frames) <= 3
    assert sum(len(f.data) for f in frames) <= 10
    assert frames[-1].data == "4234"
    assert frames[-1].truncated
    assert frames[-1].size == 9
    for n in range(4):
        record.invocation_started("f", f"id{n}", "", message("open"), pid=100 + n)
        record.invocation_ended(f"id{n}", {"result": n}, None)
    assert [i.request_id for i in record.invocations()] == ["id2", "id3"]
    assert record.invocation(1) is None


def test_an_invocation_keeps_its_event_result_logs_report_and_calls() -> None:
    """Everything the page shows of one invocation, and which calls it made."""
    record = Record(find_caller=lambda client, pids: 42 if client == "worker-socket" else None)
    event = message("c1", '{"action": "echo"}')
    record.invocation_started("echo-fn", "lambda-1", "apigw-1", event, pid=42)
    record.invocation_output(42, "echo said hi")
    record.management_call("POST", "c2", 200, 5, "worker-socket")
    record.management_call("POST", "gone", 410, 5, "worker-socket")
    record.management_call("GET", "c2", 200, 0, "someone-else")
    record.invocation_report("lambda-1", 12.3456, 128, 40)
    record.invocation_ended("lambda-1", {"result": {"statusCode": 200}}, None)
    (invocation,) = record.invocations()
    assert invocation.route == "echo"
    assert invocation.connection_id == "c1"
    assert invocation.trigger_id == "apigw-1"
    assert invocation.event == event
    assert invocation.result == {"statusCode": 200}
    assert invocation.logs == ["echo said hi"]
    assert (invocation.duration_ms, invocation.billed_ms, invocation.max_memory_mb) == (
        12.35,
        13,
        40,
    )
    calls = record.calls()
    assert [(c.status, c.invocation) for c in calls] == [
        (200, invocation.seq),
        (410, invocation.seq),
        (200, None),
    ]
    assert invocation.calls == [calls[0].seq, calls[1].seq]
    assert calls[0].function == "echo-fn"


@pytest.mark.parametrize(
    ("reply", "failure", "outcome", "error"),
    [
        (
            {"error": {"errorType": "ValueError", "errorMessage": "no"}},
            None,
            "error",
            "ValueError: no",
        ),
        (None, InvocationError("f", "Timeout", "timed out after 2 s", None), "timeout", None),
        (None, InvocationError("f", "Crash", "the worker process exited", None), "crash", None),
    ],
)
def test_outcomes(
    reply: dict[str, Any] | None,
    failure: BaseException | None,
    outcome: str,
    error: str | None,
) -> None:
    """A handler's error, a timeout and a crash each have their outcome and reason."""
    record = Record()
    record.invocation_started("f", "r1", "", message("c"), pid=1)
    assert record.invocations()[0].outcome == "running"
    record.invocation_ended("r1", reply, failure)
    entry = record.invocations()[0]
    assert entry.outcome == outcome
    assert entry.error == (error or str(getattr(failure, "detail", "")))


def test_too_large_events_and_results_are_summarised_not_kept() -> None:
    """Past the per-item limit the event and result aren't kept (and can't be replayed)."""
    record = Record(RecordLimits(invocation_item=100))
    record.invocation_started("f", "r1", "", message("c", "x" * 200), pid=1)
    record.invocation_ended("r1", {"result": "y" * 200}, None)
    entry = record.invocations()[0]
    assert entry.event is None
    assert not entry.result_kept
    assert entry.to_json()["replayable"] is False


def test_a_replay_is_marked_with_what_it_replays() -> None:
    """The event object handed to replaying() marks the invocation that runs it."""
    record = Record()
    first = message("c")
    record.invocation_started("f", "r1", "", first, pid=1)
    again = dict(first)
    record.replaying(again, of=record.invocations()[0].seq)
    record.invocation_started("f", "r2", "", again, pid=1)
    assert [i.replay_of for i in record.invocations()] == [None, 1]


def test_listeners_hear_every_change_and_can_stop() -> None:
    """A listener hears entries as they are added or change; the returned function stops it."""
    record = Record()
    heard: list[Entry] = []
    stop = record.listen(heard.append)
    record.connected(info("c1"))
    record.frame_in("c1", "{}", None, "r")
    stop()
    record.frame_in("c1", "{}", None, "r")
    assert [type(e).__name__ for e in heard] == ["ConnectionEntry", "ConnectionEntry", "FrameEntry"]


def test_a_snapshot_is_a_copy_since_a_seq() -> None:
    """Entries after ``since`` only, copied: later changes don't show in it."""
    record = Record()
    record.connected(info("before"))
    since = record.seq
    record.connected(info("after"))
    snapshot = record.snapshot(since)
    record.frame_in("after", "{}", None, "r")
    assert [c.id for c in snapshot.connections] == ["after"]
    assert snapshot.connections[0].frames_in == 0
