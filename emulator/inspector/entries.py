"""The entries of the inspector's record (:mod:`emulator.inspector.record`), and how they
are measured: a connection, a frame, an invocation, an ``@connections`` call, each with
its ``seq`` and its JSON for the page; billing units; a snapshot of them all.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BILLING_UNIT = 32 * 1024  # API Gateway meters WebSocket messages in 32 KB steps


def billing_units(size: int) -> int:
    """What API Gateway charges for one message of ``size`` bytes: 32 KB steps, at least 1."""
    return max(1, math.ceil(size / BILLING_UNIT))


def now_ms() -> float:
    return time.time() * 1000


@dataclass(frozen=True)
class RecordLimits:
    """How much history is kept. Open connections are always kept."""

    closed_connections: int = 1000
    frames: int = 5000
    frame_bytes: int = 8 * 1024 * 1024  # frame data kept, across frames
    frame_preview: int = 16 * 1024  # data kept of one frame (its size is always known)
    invocations: int = 2000
    invocation_bytes: int = 16 * 1024 * 1024  # events, results and log lines kept
    invocation_item: int = 64 * 1024  # an event, a result or the log lines of one invocation
    calls: int = 5000


@dataclass
class ConnectionEntry:
    """One WebSocket connection: what it connected with, and its traffic so far."""

    seq: int
    id: str
    connected_at: float  # epoch ms
    source_ip: str
    user_agent: str | None
    headers: Sequence[tuple[str, str]]
    query: Sequence[tuple[str, str]]
    authorizer: Mapping[str, Any] | None
    last_active_at: float
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    units_in: int = 0
    units_out: int = 0
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "connection",
            "seq": self.seq,
            "id": self.id,
            "connectedAt": self.connected_at,
            "sourceIp": self.source_ip,
            "userAgent": self.user_agent,
            "headers": [list(pair) for pair in self.headers],
            "query": [list(pair) for pair in self.query],
            "authorizer": dict(self.authorizer) if self.authorizer is not None else None,
            "lastActiveAt": self.last_active_at,
            "framesIn": self.frames_in,
            "framesOut": self.frames_out,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "unitsIn": self.units_in,
            "unitsOut": self.units_out,
            "closedAt": self.closed_at,
            "closeCode": self.close_code,
            "closeReason": self.close_reason,
        }


@dataclass
class FrameEntry:
    """One message in or out of a connection (a fragmented message counts once).

    ``kind``: ``message`` (from the client), ``post`` (an ``@connections`` POST), ``reply``
    (a two-way route's response) or ``error`` (the gateway's own error message).
    """

    seq: int
    connection_id: str
    direction: str  # "in" or "out"
    at: float
    size: int
    units: int
    data: str
    truncated: bool
    kind: str
    route: str | None = None  # the route an inbound frame selected (None: no route)
    request_id: str | None = None  # API Gateway's request id for an inbound frame

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "frame",
            "seq": self.seq,
            "connectionId": self.connection_id,
            "direction": self.direction,
            "at": self.at,
            "size": self.size,
            "units": self.units,
            "data": self.data,
            "truncated": self.truncated,
            "frameKind": self.kind,
            "route": self.route,
            "requestId": self.request_id,
        }


@dataclass
class InvocationEntry:
    """One function invocation, from the gateway or a replay.

    ``outcome``: ``running``, ``success``, ``error`` (the handler raised), ``timeout``,
    ``crash`` or ``too large``. ``event`` is None when it was too large to keep.
    """

    seq: int
    request_id: str  # Lambda's request id
    trigger_id: str  # API Gateway's request id ("" for a replay)
    function: str
    route: str | None
    connection_id: str | None
    started_at: float
    pid: int
    event: Any
    replay_of: int | None = None
    outcome: str = "running"
    error: str | None = None
    result: Any = None
    result_kept: bool = True
    duration_ms: float | None = None
    billed_ms: int | None = None
    memory_mb: int | None = None
    max_memory_mb: int | None = None
    logs: list[str] = field(default_factory=list)
    logs_dropped: int = 0
    calls: list[int] = field(default_factory=list)  # seqs of the @connections calls it made
    kept_bytes: int = 0

    def to_json(self, detail: bool = False) -> dict[str, Any]:
        """The summary; with ``detail``, the event, result and log lines too."""
        body: dict[str, Any] = {
            "kind": "invocation",
            "seq": self.seq,
            "requestId": self.request_id,
            "triggerId": self.trigger_id,
            "function": self.function,
            "route": self.route,
            "connectionId": self.connection_id,
            "startedAt": self.started_at,
            "outcome": self.outcome,
            "error": self.error,
            "durationMs": self.duration_ms,
            "billedMs": self.billed_ms,
            "memoryMb": self.memory_mb,
            "maxMemoryMb": self.max_memory_mb,
            "replayOf": self.replay_of,
            "calls": list(self.calls),
            "replayable": self.event is not None,
        }
        if detail:
            body["event"] = self.event
            body["result"] = self.result if self.result_kept else None
            body["resultKept"] = self.result_kept
            body["logs"] = list(self.logs)
            body["logsDropped"] = self.logs_dropped
        return body


@dataclass
class CallEntry:
    """One ``@connections`` request: POST, GET or DELETE, and who made it."""

    seq: int
    at: float
    method: str
    connection_id: str
    status: int
    size: int
    invocation: int | None  # the seq of the invocation that made it, if one did
    function: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "call",
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "connectionId": self.connection_id,
            "status": self.status,
            "size": self.size,
            "invocation": self.invocation,
            "function": self.function,
        }


Entry = ConnectionEntry | FrameEntry | InvocationEntry | CallEntry
Listener = Callable[[Entry], None]
# Which of these worker pids holds the TCP connection ``client`` came on (None: none).
FindCaller = Callable[[object, Iterable[int]], int | None]


def route_of(event: Any) -> tuple[str | None, str | None]:
    """The route key and connection id an event names; an authorizer's is marked."""
    if not isinstance(event, Mapping):
        return None, None
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None, None
    route = context.get("routeKey")
    if event.get("type") == "REQUEST" and "methodArn" in event:
        route = "$connect (authorizer)"
    connection = context.get("connectionId")
    return (str(route) if route is not None else None), (
        str(connection) if connection is not None else None
    )


# json.dumps with ``default`` makes an encoder a call; every invocation's result is sized.
_SIZER = json.JSONEncoder(default=str)


def json_size(value: Any) -> int:
    try:
        return len(_SIZER.encode(value))
    except (TypeError, ValueError):
        return 0


_CONTEXT_BYTES = 4096  # a message event's own fields (requestContext), roughly, at most


def event_size(event: Any) -> int:
    """About how large an event is: a message's body and its context (not serialised:
    this runs for every invocation); other events (connect, disconnect) are measured."""
    body = event.get("body") if isinstance(event, Mapping) else None
    if isinstance(body, str):
        return len(body) + _CONTEXT_BYTES
    return json_size(event)


def as_text(data: str | bytes) -> tuple[str, int]:
    """The data as text for display, and its size in bytes."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace"), len(data)
    return data, len(data.encode("utf-8", errors="replace")) if not data.isascii() else len(data)


@dataclass(frozen=True)
class Snapshot:
    """Entries copied out of a :class:`Record` at one moment."""

    connections: list[ConnectionEntry]
    frames: list[FrameEntry]
    invocations: list[InvocationEntry]
    calls: list[CallEntry]
