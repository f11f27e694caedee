"""Keep a stack's DynamoDB data across restarts of the embedded control plane.

moto keeps everything in memory, so a restart would empty every table. :func:`save`
writes each table's key schema and items to ``<directory>/tables/<table>.json`` when
the harness stops; :func:`restore` puts them back after the next deploy, table by
table, and says in one line what it restored and what it could not (a table whose
key changed, or that the stack no longer has). Reading whole tables is the harness's
business here, not the handlers': this is the only place that scans.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.stack import Stack

FORMAT = 1
_BATCH = 25  # BatchWriteItem's limit


@dataclass
class Restored:
    """What a restore did, for one line of output."""

    tables: int = 0
    items: int = 0
    refused: list[str] = field(default_factory=list)

    def summary(self, directory: Path) -> str:
        text = f"restored {self.tables} table(s), {self.items} item(s) from {directory}"
        return "; ".join([text, *self.refused])


def _key_schema(description: dict[str, Any]) -> dict[str, Any]:
    keys = [k["AttributeName"] for k in description["KeySchema"]]
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    return {
        "keys": [
            [k["AttributeName"], k["KeyType"], types[k["AttributeName"]]]
            for k in description["KeySchema"]
        ],
        "names": keys,
    }


def _describe(schema: dict[str, Any]) -> str:
    return ", ".join(f"{name} {kind} ({kind_type})" for name, kind, kind_type in schema["keys"])


def _items(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page.get("Items", [])


def save(dynamodb: Any, stack: Stack, directory: Path) -> int:
    """Write every table of the stack to the state directory; returns the item count."""
    tables_dir = directory / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    kept = set()
    for table in stack.tables:
        name = stack.table_name(table)
        description = dynamodb.describe_table(TableName=name)["Table"]
        items = list(_items(dynamodb, name))
        count += len(items)
        record = {
            "format": FORMAT,
            "table": name,
            "schema": _key_schema(description),
            "items": items,
        }
        path = tables_dir / f"{name}.json"
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(record))
        os.replace(partial, path)  # a crash mid-save leaves the previous state whole
        kept.add(path.name)
    for stale in tables_dir.glob("*.json"):
        if stale.name not in kept:
            stale.unlink()
    return count


def restore(dynamodb: Any, stack: Stack, directory: Path) -> Restored:
    """Put saved items back into the freshly deployed tables they belong to."""
    restored = Restored()
    names = {stack.table_name(t) for t in stack.tables}
    for path in sorted((directory / "tables").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            restored.refused.append(f"{path.name} is not readable: not restored")
            continue
        name = record.get("table")
        if record.get("format") != FORMAT:
            restored.refused.append(f"{name}: saved in another format, not restored")
            continue
        if name not in names:
            restored.refused.append(f"{name}: no longer in the stack, not restored")
            continue
        current = _key_schema(dynamodb.describe_table(TableName=name)["Table"])
        if current != record["schema"]:
            restored.refused.append(
                f"{name}: its key changed ({_describe(record['schema'])} → "
                f"{_describe(current)}), not restored; start with --fresh to drop it"
            )
            continue
        items = record["items"]
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
            pending: dict[str, Any] = {name: requests}
            while pending:
                reply = dynamodb.batch_write_item(RequestItems=pending)
                pending = reply.get("UnprocessedItems") or {}
        restored.tables += 1
        restored.items += len(items)
    return restored


def clear(directory: Path) -> None:
    """Forget saved state (``--fresh``)."""
    for path in (directory / "tables").glob("*.json"):
        path.unlink()
