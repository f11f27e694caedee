"""moto's DynamoDB, made safe to serve from a threaded server.

moto's DynamoDB models are plain dictionaries with no locking, and moto's server serves
each request on a thread of its own. Two things go wrong when requests overlap:

- ``TransactWriteItems`` backs up every table it names with ``copy.deepcopy`` while other
  threads write to them (``RuntimeError: dictionary changed size during iteration``,
  answered with HTTP 500), and a cancelled transaction puts that whole backup back,
  silently undoing every write other requests made to the table meanwhile;
- a Query or Scan iterates a table's items while another request adds one.

So :data:`LOCK` is held around every DynamoDB request (the control plane's server takes
it; :func:`install` makes transactions take it too). moto runs under the GIL anyway, so
little is lost: requests to one process never ran in parallel, only interleaved.

And a transaction's backup is made of the items it names, not of whole tables: copying
a table of 10,000 messages for every message sent made each transaction take time (and,
with several at once, memory) in proportion to the table. Under the lock nothing else
changes the table during the transaction, so undoing its own writes, item by item, puts
the table back exactly as it was.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

LOCK = threading.RLock()  # moto's backends are per process, so one lock for the process

_Saved = tuple[str, dict[str, Any], Any]  # table name, key, the item before (None: none)


def is_dynamodb_request(target: str | None) -> bool:
    """Whether a request with this ``X-Amz-Target`` is one of DynamoDB's (or its streams')."""
    return bool(target) and str(target).startswith("DynamoDB")


class _TablesUncopied:
    """Stands in for the ``copy`` module in moto's DynamoDB models during a transaction:
    tables are not copied (their items are saved one by one instead); anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key(backend: DynamoDBBackend, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    if operation != "Put":
        return dict(request["Key"])
    table = backend.get_table(request["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: request["Item"][name] for name in names}


def _save(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    """A copy of each item the transaction names, as it is now (None where there is none).

    An operation whose table or key is invalid is skipped: moto refuses it before it
    writes anything, and the transaction is cancelled.
    """
    saved: list[_Saved] = []
    for entry in transact_items:
        try:
            ((operation, request),) = entry.items()
            key = _key(backend, operation, request)
            item = backend.get_item(request["TableName"], key)
        except Exception:
            continue
        saved.append((request["TableName"], key, copy.deepcopy(item)))
    return saved


def _restore(backend: DynamoDBBackend, saved: list[_Saved]) -> None:
    """Put every saved item back as it was (in reverse, should one be named twice)."""
    for table_name, key, item in reversed(saved):
        if item is not None:
            backend.put_item(table_name, item.to_json()["Attributes"])
        elif backend.get_item(table_name, key) is not None:
            backend.delete_item(table_name, key)


@contextmanager
def _tables_uncopied() -> Iterator[None]:
    namespace = vars(models)  # the module's globals, where its code finds ``copy``
    real = namespace["copy"]
    namespace["copy"] = _TablesUncopied()
    try:
        yield
    finally:
        namespace["copy"] = real


def _transact_write_items(
    original: Callable[[DynamoDBBackend, list[dict[str, Any]]], None],
) -> Callable[[DynamoDBBackend, list[dict[str, Any]]], None]:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with LOCK:
            saved = _save(self, transact_items)
            try:
                with _tables_uncopied():
                    original(self, transact_items)
            except BaseException:
                _restore(self, saved)
                raise

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    return transact_write_items


def install() -> None:
    """Make moto's transactions take :data:`LOCK` and back up items, not tables (once)."""
    with LOCK:
        method = DynamoDBBackend.transact_write_items
        if not hasattr(method, "__wrapped__"):
            DynamoDBBackend.transact_write_items = _transact_write_items(method)  # type: ignore[method-assign,assignment]
