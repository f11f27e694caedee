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
per frame. It all runs on the gateway's event loop: no locks. The entries themselves
are :mod:`emulator.inspector.entries`' (and importable from here).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from emulator.events import ConnectionInfo
from emulator.inspector.entries import (
    BILLING_UNIT,
    CallEntry,
    ConnectionEntry,
    Entry,
    FindCaller,
    FrameEntry,
    InvocationEntry,
    Listener,
    RecordLimits,
    Snapshot,
    as_text,
    billing_units,
    event_size,
    json_size,
    now_ms,
    route_of,
)

__all__ = [
    "BILLING_UNIT",
    "CallEntry",
    "ConnectionEntry",
    "Entry",
    "FindCaller",
    "FrameEntry",
    "InvocationEntry",
    "Listener",
    "Record",
    "RecordLimits",
    "Snapshot",
    "billing_units",
]


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
        text, size = as_text(data)
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
        text, size = as_text(data)
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
            at=now_ms(),
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
        connection.closed_at = now_ms()
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
            at=now_ms(),
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
        route, connection_id = route_of(event)
        size = event_size(event)
        kept = size <= self.limits.invocation_item
        entry = InvocationEntry(
            seq=self._next(),
            request_id=request_id,
            trigger_id=trigger_id,
            function=function,
            route=route,
            connection_id=connection_id,
            started_at=now_ms(),
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
            size = json_size(result)
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
