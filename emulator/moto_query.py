"""moto's DynamoDB Query, without sorting the whole table first.

moto answers a Query by listing every item of the table, sorted by its keys (Python
comparisons of moto's value objects), then keeping those of the partition asked for.
So a Query of one partition took time in proportion to the whole table: 2.1 ms in a
table of 100 items, 12.2 ms in one of 5,100 (boto3 over HTTP to the embedded control
plane). The chat's messages table only grows, and state is saved between runs.

moto keeps a table's items by partition (``Table.items``: the partition key's value,
then, for a table with a sort key, the sort key's), so during :func:`install`'s Query:

- on the table itself, the items listed are the partition's alone (a dictionary look-up;
  moto's value objects hash as they compare), which moto then sorts by their sort key;
- on an index, they are the table's items unsorted: moto sorts the candidates by the
  index's keys and then the table's, which tell any two items apart, so the order it
  started from cannot show.

The rest (key conditions, filters, pages, limits, projections, order) is moto's own.
``tests/e2e/test_moto_query.py`` runs each kind of Query both ways on the same tables.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

_Query = Callable[..., tuple[list[Item], int, dict[str, Any] | None]]


def _held(table: Table, held: Any) -> list[Item]:
    """A partition's items: one (no sort key), or a dictionary of them by sort key."""
    return list(held.values()) if table.range_key_attr else [held]


def _partition(table: Table, hash_key: Any) -> list[Item]:
    """The items of one partition (moto sorts them by their sort key next)."""
    held = table.items.get(hash_key)
    return [] if held is None else _held(table, held)


def _unsorted(table: Table) -> list[Item]:
    return [item for held in table.items.values() for item in _held(table, held)]


def _listing_only_what_it_needs(query: _Query) -> _Query:
    signature = inspect.signature(query)

    @functools.wraps(query)
    def listing(table: Table, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(table, *args, **kwargs).arguments
        if asked.get("index_name"):
            items = _unsorted(table)
        elif asked.get("hash_key") is not None:
            items = _partition(table, asked["hash_key"])
        else:
            return query(table, *args, **kwargs)
        # Shadows the method for this call only (DynamoDB requests run one at a time:
        # emulator.moto_dynamodb.LOCK).
        table.all_items = lambda: items  # type: ignore[method-assign]
        try:
            return query(table, *args, **kwargs)
        finally:
            del table.all_items

    listing._emulator_listing = True  # type: ignore[attr-defined]
    return listing


def install() -> None:
    """moto's Query lists only the partition it reads (once per process)."""
    if not getattr(Table.query, "_emulator_listing", False):
        Table.query = _listing_only_what_it_needs(Table.query)  # type: ignore[method-assign]
