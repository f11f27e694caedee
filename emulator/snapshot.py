"""Save the embedded DynamoDB's tables while the stack serves, each snapshot one moment.

Functions write concurrently, so a copy of several tables is one moment only if nothing
writes while it is taken. Every DynamoDB request the control plane serves holds
:data:`emulator.moto_dynamodb.LOCK` (moto's models need it anyway), so
:meth:`Gate.held` takes that lock — new requests wait, the one in flight finishes (for a
bounded time) — and what is copied while it is held is every table at one moment,
whoever wrote it (a function, a script on ``AWS_ENDPOINT_URL``, the restore). The copy
is read straight from moto's tables (unsorted: sorting was most of its time), about
0.3 s for 10,000 items on a busy 2-core machine, and written to disk after the lock is
released. The gate also counts writes, which
tells :class:`Saver` when there is something new to save.

:class:`Saver` saves ``SETTLE`` seconds after the writes stop, and at least every
``AT_MOST`` seconds while they don't, so that kill -9 or a power cut loses at most the
last few seconds; and once more when the harness stops.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from emulator import moto_dynamodb
from emulator.restore import key_schema
from emulator.state import SavedState, TableCopy, step

log = logging.getLogger("emulator.state")

SETTLE = 1.0  # seconds without writes before a save
AT_MOST = 5.0  # seconds between saves while writes go on
HOLD_LIMIT = 10.0  # seconds to wait for the requests in flight before giving up a save
_TICK = 0.2
_READS = ("Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List")


class Busy(Exception):
    """DynamoDB requests were still running when a snapshot had to give up waiting."""


class Gate:
    """A WSGI middleware that counts DynamoDB's writes, and holds its requests for a moment."""

    def __init__(self) -> None:
        self._condition = threading.Lock()
        self.writes = 0  # DynamoDB requests served that may have changed something
        self.last_write = 0.0  # when the latest of them ended (time.monotonic)

    def middleware(self, app: WSGIApplication) -> WSGIApplication:
        def counted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            if not moto_dynamodb.is_dynamodb_request(target):
                return app(environ, start_response)
            try:
                response = app(environ, start_response)
                try:
                    body = b"".join(response)  # the request's work is done by now
                finally:
                    if close := getattr(response, "close", None):
                        close()
            finally:
                if not target.partition(".")[2].startswith(_READS):
                    with self._condition:
                        self.writes += 1
                        self.last_write = time.monotonic()
            return [body]

        return counted

    @contextmanager
    def held(self, timeout: float) -> Iterator[int]:
        """Hold new requests and wait for the one in flight; yields the writes so far.

        A write counted after this returns may already be in the copy: the next save
        then finds nothing new, which costs a save, never a write.
        """
        if not moto_dynamodb.LOCK.acquire(timeout=timeout):
            raise Busy(f"DynamoDB requests were still running after {timeout:.0f} s")
        try:
            with self._condition:
                writes = self.writes
            yield writes
        finally:
            moto_dynamodb.LOCK.release()


def copy_tables(account_id: str, region: str, names: Iterable[str]) -> list[TableCopy]:
    """The tables as moto holds them, in new objects (call it with the gate held)."""
    backend = dynamodb_backends[account_id][region]
    copies = []
    for name in names:
        table = backend.tables.get(name)
        if table is None:
            continue
        items = [{k: wire_value(v) for k, v in item.attrs.items()} for item in _items(table)]
        schema = key_schema(table.describe()["TableDescription"])
        copies.append(TableCopy(name, schema, items))
    return copies


def _items(table: Table) -> Iterator[Item]:
    """A table's items in no order (``Table.all_items`` sorts them: most of a copy's time)."""
    for entry in table.items.values():
        if isinstance(entry, Item):
            yield entry
        else:  # a table with a sort key: hash key → sort key → item
            yield from entry.values()


def wire_value(value: DynamoType) -> dict[str, Any]:
    """An attribute value in DynamoDB's JSON format (a new object: moto's may change)."""
    kind, inner = value.type, value.value
    if kind == "M":
        return {"M": {k: wire_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [wire_value(v) for v in inner]}
    if kind == "B":
        return {"B": _base64(inner)}
    if kind == "BS":
        return {"BS": [_base64(v) for v in inner]}
    return {kind: list(inner) if isinstance(inner, list) else inner}


def _base64(value: bytes | str) -> str:
    """moto keeps binary as the base64 text of the request, or as bytes."""
    return value if isinstance(value, str) else base64.b64encode(value).decode()


class Saver:
    """Saves the tables named by ``names()`` while the stack serves, and at :meth:`close`."""

    def __init__(
        self,
        state: SavedState,
        gate: Gate,
        account_id: str,
        region: str,
        names: Callable[[], Iterable[str]],
    ) -> None:
        self._state = state
        self._gate = gate
        self._account = account_id
        self._region = region
        self._names = names
        self._saved_writes = gate.writes  # the snapshot on disk holds these writes
        self._lock = threading.Lock()  # one save at a time
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> bool:
        """Whether the snapshot on disk is behind the tables (or holds what was refused)."""
        return self._gate.writes != self._saved_writes or self._state.stale

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        since: float | None = None  # when the tables first differed from the snapshot
        while True:
            await asyncio.sleep(_TICK)
            if not self.pending:
                since = None
                continue
            now = time.monotonic()
            since = since or now
            if now - self._gate.last_write < SETTLE and now - since < AT_MOST:
                continue
            try:
                await asyncio.to_thread(self.save)
            except (Busy, OSError) as exc:
                log.warning("could not save the tables to %s: %s", self._state.directory, exc)
                await asyncio.sleep(AT_MOST)
            since = None

    def save(self) -> None:
        """Take a snapshot and write it (blocking: call it in a thread)."""
        with self._lock:
            with self._gate.held(HOLD_LIMIT) as writes:
                step("held")
                moment = datetime.now(UTC)
                copies = copy_tables(self._account, self._region, self._names())
            step("copied")
            self._state.write(copies, moment)
            self._saved_writes = writes

    async def close(self) -> None:
        """Stop saving periodically, then save what changed since the last snapshot."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.pending:
            await asyncio.to_thread(self.save)
