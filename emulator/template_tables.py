"""A template's DynamoDB tables: ``AWS::DynamoDB::Table`` and ``AWS::DynamoDB::GlobalTable``.

A global table (what CDK's ``TableV2`` synthesizes) is served as one table in the
stack's region: its keys, indexes and TTL read as a table's; replicas in other regions
are reported and not made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from emulator.stack import Index, Table
from emulator.template_file import TemplateError

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")


def _keys(schema: Any, owner: str) -> tuple[str, str | None]:
    by_type = {str(k.get("KeyType")): str(k.get("AttributeName")) for k in schema or []}
    if "HASH" not in by_type:
        raise TemplateError(f"{owner}: KeySchema needs a HASH key")
    return by_type["HASH"], by_type.get("RANGE")


def _index(spec: Mapping[str, Any], local: bool, what: str) -> Index:
    hash_key, range_key = _keys(spec.get("KeySchema"), f"{what} index {spec.get('IndexName')}")
    projection = spec.get("Projection") or {}
    return Index(
        name=str(spec.get("IndexName")),
        hash_key=hash_key,
        range_key=range_key,
        local=local,
        projection=str(projection.get("ProjectionType", "ALL")),
        non_key_attributes=tuple(projection.get("NonKeyAttributes") or ()),
    )


def read_table(
    logical_id: str, props: Mapping[str, Any], name: str, region: str, notes: list[str]
) -> Table:
    """The table a resource's (resolved) properties declare; what isn't served goes to notes."""
    what = f"table {logical_id}"
    types = {
        str(a["AttributeName"]): str(a["AttributeType"])
        for a in props.get("AttributeDefinitions") or []
    }
    hash_key, range_key = _keys(props.get("KeySchema"), what)
    indexes = tuple(_index(s, False, what) for s in props.get("GlobalSecondaryIndexes") or [])
    indexes += tuple(_index(s, True, what) for s in props.get("LocalSecondaryIndexes") or [])
    ttl = props.get("TimeToLiveSpecification") or {}
    table = Table(
        name=name,
        hash_key=hash_key,
        range_key=range_key,
        indexes=indexes,
        ttl_attribute=str(ttl["AttributeName"]) if ttl.get("Enabled") else None,
    )
    missing = [k for k in table.key_attributes if k not in types]
    if missing:
        raise TemplateError(
            f"{what}: AttributeDefinitions lacks the key attribute(s) {', '.join(missing)}"
        )
    if props.get("StreamSpecification"):
        notes.append(f"{what}: streams are not emulated")
    elsewhere = sorted(
        {str(r.get("Region")) for r in props.get("Replicas") or [] if isinstance(r, Mapping)}
        - {region}
    )
    if elsewhere:
        notes.append(f"{what}: only its {region} replica is served (not {', '.join(elsewhere)})")
    key_types = tuple((k, types[k]) for k in table.key_attributes if types[k] != "S")
    return replace(table, key_types=key_types)
