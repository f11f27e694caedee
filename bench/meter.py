"""Counts the AWS calls a handler makes, through botocore's event hooks.

Hooked on a boto3 session, a :class:`Meter` sees every call its clients make: it
asks DynamoDB for ``ReturnConsumedCapacity`` and keeps what comes back, and it works
out the capacity units AWS would bill from the items' sizes, by AWS's rules:

- reads: the items' total size in 4 KB units, halved for eventually consistent reads
  (a Query is charged for every item its key condition reads, filtered or not);
- writes: the larger of the item before and after, in 1 KB units, plus as much again
  for each global secondary index the item is in; a failed condition still costs 1;
- transactions: twice that.

moto reports a fixed 0.5 or 1 unit per call whatever the size, so both are kept and
the report uses the computed ones. Item sizes are read with a client of its own,
outside the hooks, and the CPU that costs is kept apart from the handler's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed attribute value, as DynamoDB counts them (approximately for N)."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode())
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in data)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


@dataclass
class Call:
    service: str
    operation: str
    read_units: float = 0.0
    write_units: float = 0.0
    reported_units: float = 0.0  # what the emulator said it consumed
    failed: bool = False


@dataclass
class Window:
    """The calls of one invocation."""

    calls: list[Call] = field(default_factory=list)
    overhead_cpu: float = 0.0  # the meter's own look-ups, not the handler's
    posted: list[tuple[str, bytes]] = field(default_factory=list)  # (connection id, data)

    def count(self, service: str, operation: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if c.service == service and (operation is None or c.operation == operation)
        )

    @property
    def read_units(self) -> float:
        return sum(c.read_units for c in self.calls)

    @property
    def write_units(self) -> float:
        return sum(c.write_units for c in self.calls)


class _Table:
    def __init__(self, description: Mapping[str, Any]) -> None:
        self.keys = [k["AttributeName"] for k in description["KeySchema"]]
        self.indexes = [
            [k["AttributeName"] for k in index["KeySchema"]]
            for index in description.get("GlobalSecondaryIndexes", [])
        ]

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.keys}


class Meter:
    """Hook a session's clients; :meth:`window` collects one invocation's calls."""

    def __init__(self, session: Any, lookup: Any) -> None:
        self._lookup = lookup  # a plain DynamoDB client on another session: not metered
        self._tables: dict[str, _Table] = {}
        self.current = Window()
        events = session.events
        events.register("provide-client-params.*.*", self._before)
        events.register("after-call.*.*", self._after)
        events.register("after-call-error.*.*", self._after_error)

    def window(self) -> Window:
        """Start a new window; returns the one that ends."""
        ended, self.current = self.current, Window()
        return ended

    # --- hooks ---------------------------------------------------------------------

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if model.name == "PostToConnection":
            self.current.posted.append((params["ConnectionId"], params["Data"]))
        if model.service_model.service_name != "dynamodb":
            return
        started = time.thread_time()
        name = model.name
        if name in _READS | _WRITES:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context["bench_params"] = dict(params)
        if name in _WRITES:
            context["bench_before"] = self._writes_before(name, params)
        self.current.overhead_cpu += time.thread_time() - started

    def _after(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        service = model.service_model.service_name
        call = Call(service, model.name)
        self.current.calls.append(call)
        if service != "dynamodb":
            return
        started = time.thread_time()
        call.reported_units = _reported(parsed.get("ConsumedCapacity"))
        params = context.get("bench_params", {})
        if http_response.status_code >= 300:
            call.failed = True
            call.write_units = 1.0 if model.name in _WRITES else 0.0
            call.read_units = 0.5 if model.name in _READS else 0.0
        elif model.name in _READS:
            call.read_units = self._read_units(model.name, params, parsed)
        elif model.name in _WRITES:
            call.write_units = self._write_units(model.name, context.get("bench_before", []))
        self.current.overhead_cpu += time.thread_time() - started

    def _after_error(self, model: Any, **_: Any) -> None:
        self.current.calls.append(Call(model.service_model.service_name, model.name, failed=True))

    # --- capacity --------------------------------------------------------------------

    def _table(self, name: str) -> _Table:
        if name not in self._tables:
            self._tables[name] = _Table(self._lookup.describe_table(TableName=name)["Table"])
        return self._tables[name]

    def _current_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        reply = self._lookup.get_item(TableName=table, Key=dict(key), ConsistentRead=True)
        item = reply.get("Item")
        return dict(item) if item else None

    def _writes_before(
        self, operation: str, params: Mapping[str, Any]
    ) -> list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, bool]]:
        """(table, key, item before, item to put, transactional) for each item written."""
        writes: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, bool]]
        writes = []
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                kind, spec = next(iter(entry.items()))
                table = self._table(spec["TableName"])
                new = spec.get("Item") if kind == "Put" else None
                key = table.key_of(new) if new is not None else dict(spec["Key"])
                before = self._current_item(spec["TableName"], key)
                writes.append((spec["TableName"], key, before, new, True))
            return writes
        if operation == "BatchWriteItem":
            for table_name, requests in params["RequestItems"].items():
                table = self._table(table_name)
                for request in requests:
                    put = request.get("PutRequest", {}).get("Item")
                    key = table.key_of(put) if put else request["DeleteRequest"]["Key"]
                    before = self._current_item(table_name, key)
                    writes.append((table_name, key, before, put, False))
            return writes
        table = self._table(params["TableName"])
        new = params.get("Item") if operation == "PutItem" else None
        key = table.key_of(new) if new is not None else dict(params["Key"])
        before = self._current_item(params["TableName"], key)
        return [(params["TableName"], key, before, new, False)]

    def _write_units(
        self,
        operation: str,
        writes: list[
            tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, bool]
        ],
    ) -> float:
        units = 0.0
        for table_name, key, before, new, transactional in writes:
            after = new if new is not None else self._current_item(table_name, key)
            size = max(item_size(before), item_size(after))
            base = max(1, math.ceil(size / 1024))
            indexed = sum(
                1
                for index in self._table(table_name).indexes
                if any(all(k in item for k in index) for item in (before, after) if item)
            )
            units += base * (1 + indexed) * (2 if transactional else 1)
        return units

    def _read_units(
        self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> float:
        consistent = bool(params.get("ConsistentRead"))
        factor = 1.0 if consistent else 0.5
        if operation == "GetItem":
            item = parsed.get("Item")
            return factor * max(1, math.ceil(item_size(item) / 4096))
        if operation in ("Query", "Scan"):
            items = parsed.get("Items", [])
            size = sum(item_size(i) for i in items)
            returned, scanned = parsed.get("Count", 0), parsed.get("ScannedCount", 0)
            if returned and scanned > returned:  # filtered out after the read: still read
                size = size * scanned / returned
            elif scanned and not returned:
                size = scanned * 100  # nothing left to measure: assume small items
            return factor * max(1, math.ceil(size / 4096))
        return factor  # batch and transactional gets: not used by the chat


def _reported(consumed: Any) -> float:
    if isinstance(consumed, list):
        return sum(float(c.get("CapacityUnits", 0)) for c in consumed)
    if isinstance(consumed, dict):
        return float(consumed.get("CapacityUnits", 0))
    return 0.0
