"""What a WebSocket API did: connections, frames, invocations and ``@connections`` calls.

Pure and bounded: the gateway, the ``@connections`` API and the runner tell a
:class:`Record` what happens (it is their :class:`~emulator.inspector.observer.Observer`),
and it keeps the latest of each kind within :class:`RecordLimits` (counts, and bytes of
what the entries hold: frame data, events, results and log lines). Open connections
are always kept; closed ones, frames, invocations and calls give way oldest first.
Counters (frames, bytes and billing units in and out of each connection) count
everything, whatever the history still holds.

Every entry has a ``seq`` that grows across kinds, so "since" is one number. Listeners
(:meth:`Record.listen`) hear each entry when it is added or changes; nothing is
serialised here, so an idle inspector costs the data plane a few object allocations
per frame. It all runs on the gateway's event loop: no locks.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from emulator.events import ConnectionInfo

BILLING_UNIT = 32 * 1024  # API Gateway meters WebSocket messages in 32 KB steps


def billing_units(size: int) -> int:
    """What API Gateway charges for one message of ``size`` bytes: 32 KB steps, at least 1."""
    return max(1, math.ceil(size / BILLING_UNIT))


def _now_ms() -> float:
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


def _route_of(event: Any) -> tuple[str | None, str | None]:
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


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return 0


_CONTEXT_BYTES = 4096  # a message event's own fields (requestContext), roughly, at most


def _event_size(event: Any) -> int:
    """About how large an event is: a message's body and its context (not serialised:
    this runs for every invocation); other events (connect, disconnect) are measured."""
    body = event.get("body") if isinstance(event, Mapping) else None
    if isinstance(body, str):
        return len(body) + _CONTEXT_BYTES
    return _json_size(event)


def _as_text(data: str | bytes) -> tuple[str, int]:
    """The data as text for display, and its size in bytes."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace"), len(data)
    return data, len(data.encode("utf-8", errors="replace")) if not data.isascii() else len(data)


class Record:
    """The bounded history of one gateway; also its observer (see the module's doc)."""

    def __init__(
        self, limits: RecordLimits | None = None, find_caller: FindCaller | None = None
    ) -> None:
        self.limits = limits or RecordLimits()
        self.find_caller = find_caller
        self._seq = 0
        self._open: dict[str, ConnectionEntry] = {}
        self._closed: deque[ConnectionEntry] = deque()
        self._frames: deque[FrameEntry] = deque()
        self._frame_bytes = 0
        self._invocations: deque[InvocationEntry] = deque()
        self._invocation_bytes = 0
        self._by_request: dict[str, InvocationEntry] = {}  # running, by Lambda request id
        self._by_pid: dict[int, InvocationEntry] = {}  # the invocation each worker runs
        self._by_seq: dict[int, InvocationEntry] = {}
        self._calls: deque[CallEntry] = deque()
        self._listeners: list[Listener] = []
        self._replays: dict[int, int] = {}  # id() of an event about to be replayed -> of what
        self.api: dict[str, Any] = {}  # what the API is (routes, authorizer, stage), for display

    # --- reading ---------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The latest entry's seq: entries after it are "since now"."""
        return self._seq

    def connections(self) -> list[ConnectionEntry]:
        """Closed connections still kept, then open ones, each oldest first."""
        return sorted([*self._closed, *self._open.values()], key=lambda c: c.seq)

    def connection(self, connection_id: str) -> ConnectionEntry | None:
        found = self._open.get(connection_id)
        if found is not None:
            return found
        return next((c for c in reversed(self._closed) if c.id == connection_id), None)

    def frames(self, connection_id: str | None = None) -> list[FrameEntry]:
        return [
            f for f in self._frames if connection_id is None or f.connection_id == connection_id
        ]

    def invocations(self) -> list[InvocationEntry]:
        return list(self._invocations)

    def invocation(self, seq: int) -> InvocationEntry | None:
        return self._by_seq.get(seq)

    def calls(self) -> list[CallEntry]:
        return list(self._calls)

    def running_on(self, pid: int) -> InvocationEntry | None:
        """The invocation the worker ``pid`` runs now, if any."""
        return self._by_pid.get(pid)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Hear of every entry added or changed; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _tell(self, entry: Entry) -> None:
        for listener in self._listeners:
            listener(entry)

    # --- the gateway -----------------------------------------------------------------

    def connected(self, info: ConnectionInfo) -> None:
        entry = ConnectionEntry(
            seq=self._next(),
            id=info.connection_id,
            connected_at=float(info.connected_at),
            source_ip=info.source_ip,
            user_agent=info.user_agent,
            headers=tuple(info.headers),
            query=tuple(info.query),
            authorizer=info.authorizer,
            last_active_at=float(info.connected_at),
        )
        self._open[info.connection_id] = entry
        self._tell(entry)

    def frame_in(self, connection_id: str, data: str, route: str | None, request_id: str) -> None:
        connection = self._open.get(connection_id)
        text, size = _as_text(data)
        frame = self._frame(connection_id, "in", text, size, "message")
        frame.route = route
        frame.request_id = request_id
        if connection is not None:
            connection.frames_in += 1
            connection.bytes_in += size
            connection.units_in += frame.units
            connection.last_active_at = frame.at
            self._tell(connection)
        self._tell(frame)

    def frame_out(self, connection_id: str, data: str | bytes, kind: str) -> None:
        connection = self._open.get(connection_id)
        text, size = _as_text(data)
        frame = self._frame(connection_id, "out", text, size, kind)
        if connection is not None:
            connection.frames_out += 1
            connection.bytes_out += size
            connection.units_out += frame.units
            self._tell(connection)
        self._tell(frame)

    def _frame(
        self, connection_id: str, direction: str, text: str, size: int, kind: str
    ) -> FrameEntry:
        limit = self.limits.frame_preview
        kept = text if len(text) <= limit else text[:limit]
        frame = FrameEntry(
            seq=self._next(),
            connection_id=connection_id,
            direction=direction,
            at=_now_ms(),
            size=size,
            units=billing_units(size),
            data=kept,
            truncated=len(kept) < len(text),
            kind=kind,
        )
        self._frames.append(frame)
        self._frame_bytes += len(kept)
        while self._frames and (
            len(self._frames) > self.limits.frames or self._frame_bytes > self.limits.frame_bytes
        ):
            self._frame_bytes -= len(self._frames.popleft().data)
        return frame

    def disconnected(self, connection_id: str, code: int, reason: str) -> None:
        connection = self._open.pop(connection_id, None)
        if connection is None:
            return
        connection.closed_at = _now_ms()
        connection.close_code = code
        connection.close_reason = reason
        self._closed.append(connection)
        while len(self._closed) > self.limits.closed_connections:
            self._closed.popleft()
        self._tell(connection)

    # --- the @connections API ----------------------------------------------------------

    def management_call(
        self, method: str, connection_id: str, status: int, size: int, client: object
    ) -> None:
        """A request ``client`` (the TCP connection it came on) made; ``find_caller`` says
        which worker process holds that connection, so which invocation made it."""
        caller_pid = self.find_caller(client, self.busy_pids()) if self.find_caller else None
        invocation = self._by_pid.get(caller_pid) if caller_pid is not None else None
        call = CallEntry(
            seq=self._next(),
            at=_now_ms(),
            method=method,
            connection_id=connection_id,
            status=status,
            size=size,
            invocation=invocation.seq if invocation is not None else None,
            function=invocation.function if invocation is not None else None,
        )
        self._calls.append(call)
        while len(self._calls) > self.limits.calls:
            self._calls.popleft()
        if invocation is not None:
            invocation.calls.append(call.seq)
        self._tell(call)

    def busy_pids(self) -> Iterable[int]:
        """The workers running an invocation now (who may be calling ``@connections``)."""
        return [entry.pid for entry in self._by_request.values()]

    # --- the runner --------------------------------------------------------------------

    def invocation_started(
        self,
        function: str,
        request_id: str,
        trigger_id: str,
        event: Any,
        pid: int,
    ) -> None:
        replay_of = self._replays.pop(id(event), None)
        route, connection_id = _route_of(event)
        size = _event_size(event)
        kept = size <= self.limits.invocation_item
        entry = InvocationEntry(
            seq=self._next(),
            request_id=request_id,
            trigger_id=trigger_id,
            function=function,
            route=route,
            connection_id=connection_id,
            started_at=_now_ms(),
            pid=pid,
            event=event if kept else None,
            replay_of=replay_of,
            kept_bytes=size if kept else 0,
        )
        self._by_request[request_id] = entry
        self._by_pid[pid] = entry
        self._by_seq[entry.seq] = entry
        self._invocations.append(entry)
        self._invocation_bytes += entry.kept_bytes
        self._trim_invocations()
        self._tell(entry)

    def invocation_output(self, pid: int, line: str) -> None:
        """A line the worker ``pid`` printed or logged: its invocation's (the latest one's)."""
        entry = self._by_pid.get(pid)
        if entry is None:
            return
        if entry.kept_bytes + len(line) > self.limits.invocation_item:
            entry.logs_dropped += 1
            return
        entry.logs.append(line)
        entry.kept_bytes += len(line)
        self._invocation_bytes += len(line)

    def invocation_report(
        self, request_id: str, duration_ms: float, memory_mb: int, max_memory_mb: int
    ) -> None:
        entry = self._by_request.get(request_id)
        if entry is None:
            return
        entry.duration_ms = round(duration_ms, 2)
        entry.billed_ms = int(duration_ms) + 1  # as the REPORT line says
        entry.memory_mb = memory_mb
        entry.max_memory_mb = max_memory_mb

    def invocation_ended(
        self, request_id: str, reply: Mapping[str, Any] | None, failure: BaseException | None
    ) -> None:
        """The outcome: the worker's reply (a result or an error), or why there was none."""
        entry = self._by_request.pop(request_id, None)
        if entry is None:
            return
        if failure is not None:
            kind = str(getattr(failure, "kind", "") or type(failure).__name__)
            entry.outcome = {"Timeout": "timeout", "ResponseTooLarge": "too large"}.get(
                kind, "crash"
            )
            entry.error = str(getattr(failure, "detail", "") or failure)
        elif reply is not None and "error" in reply:
            error = reply["error"]
            entry.outcome = "error"
            entry.error = f"{error.get('errorType')}: {error.get('errorMessage')}"
        else:
            entry.outcome = "success"
            result = (reply or {}).get("result")
            size = _json_size(result)
            if size <= self.limits.invocation_item:
                entry.result = result
                entry.kept_bytes += size
                self._invocation_bytes += size
            else:
                entry.result_kept = False
        self._trim_invocations()
        self._tell(entry)

    def _trim_invocations(self) -> None:
        limits = self.limits
        while self._invocations and (
            len(self._invocations) > limits.invocations
            or self._invocation_bytes > limits.invocation_bytes
        ):
            old = self._invocations.popleft()
            self._invocation_bytes -= old.kept_bytes
            self._by_seq.pop(old.seq, None)
            if self._by_pid.get(old.pid) is old:
                del self._by_pid[old.pid]

    def replaying(self, event: Any, of: int) -> None:
        """The next invocation of exactly this ``event`` object replays invocation ``of``."""
        self._replays[id(event)] = of

    # --- copies for other threads ------------------------------------------------------

    def snapshot(self, since: int = 0) -> Snapshot:
        """Copies of every entry after ``since``, safe to read on another thread."""
        return Snapshot(
            connections=[replace(c) for c in self.connections() if c.seq > since],
            frames=[replace(f) for f in self._frames if f.seq > since],
            invocations=[
                replace(i, logs=list(i.logs), calls=list(i.calls))
                for i in self._invocations
                if i.seq > since
            ],
            calls=[replace(c) for c in self._calls if c.seq > since],
        )


@dataclass(frozen=True)
class Snapshot:
    """Entries copied out of a :class:`Record` at one moment."""

    connections: list[ConnectionEntry]
    frames: list[FrameEntry]
    invocations: list[InvocationEntry]
    calls: list[CallEntry]
