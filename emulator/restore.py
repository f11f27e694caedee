"""Put a saved table back into DynamoDB: all of its items, or none and the reason why.

The items go through DynamoDB's own API (BatchWriteItem), so whatever it would refuse
is refused here too; a refused item names itself, and the items already written are
deleted again, so that a table is never restored in part.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

_BATCH = 25  # BatchWriteItem's limit
_REFUSED_CODES = frozenset({"ValidationException", "SerializationException"})


class Refused(Exception):
    """Saved data that can't be restored; the message says why, to a human."""


def key_schema(description: dict[str, Any]) -> dict[str, Any]:
    """A table's keys as saved: ``[[name, HASH|RANGE, S|N|B], …]`` and their names."""
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    return {
        "keys": [
            [k["AttributeName"], k["KeyType"], types[k["AttributeName"]]]
            for k in description["KeySchema"]
        ],
        "names": [k["AttributeName"] for k in description["KeySchema"]],
    }


def describe_keys(schema: dict[str, Any]) -> str:
    return ", ".join(f"{name} {kind} ({kind_type})" for name, kind, kind_type in schema["keys"])


def put_table(dynamodb: Any, name: str, record: dict[str, Any]) -> int:
    """Write a saved table's items into the (empty) table; all of them, or none."""
    current = key_schema(dynamodb.describe_table(TableName=name)["Table"])
    if current != record["schema"]:
        raise Refused(
            f"its key changed ({describe_keys(record['schema'])} → {describe_keys(current)})"
        )
    items = record["items"]
    try:
        requests = [client_item(item) for item in items]
    except ValueError as exc:
        raise Refused(f"an item is not in DynamoDB's format ({exc})") from None
    done = 0
    try:
        for done in range(0, len(requests), _BATCH):
            _write_batch(dynamodb, name, requests[done : done + _BATCH])
    except (ClientError, ParamValidationError) as exc:
        if isinstance(exc, ClientError) and exc.response["Error"]["Code"] not in _REFUSED_CODES:
            raise
        which, why = _first_refused(dynamodb, name, requests[done : done + _BATCH])
        _remove(dynamodb, name, record["schema"]["names"], requests[: done + _BATCH])
        raise Refused(
            f"DynamoDB refused item {done + which + 1} of {len(items)} "
            f"({json.dumps(items[done + which])[:120]}): {why}"
        ) from None
    return len(items)


def _write_batch(dynamodb: Any, name: str, items: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {name: [{"PutRequest": {"Item": item}} for item in items]}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _first_refused(dynamodb: Any, name: str, items: list[dict[str, Any]]) -> tuple[int, str]:
    """Which item of a refused batch DynamoDB refuses, and its words."""
    for i, item in enumerate(items):
        try:
            dynamodb.put_item(TableName=name, Item=item)
        except ClientError as exc:
            return i, str(exc.response["Error"].get("Message", exc))
        except ParamValidationError as exc:
            return i, " ".join(str(exc).split())
    return 0, "the batch was refused, each of its items alone was not"


def _remove(dynamodb: Any, name: str, keys: list[str], items: list[dict[str, Any]]) -> None:
    """Undo a table's partial restore: delete the items that have their whole key."""
    requests = [
        {"DeleteRequest": {"Key": {k: item[k] for k in keys}}}
        for item in items
        if all(k in item for k in keys)
    ]
    for start in range(0, len(requests), _BATCH):
        try:
            dynamodb.batch_write_item(RequestItems={name: requests[start : start + _BATCH]})
        except (ClientError, ParamValidationError):
            for request in requests[start : start + _BATCH]:  # one bad key spoils a batch
                try:
                    dynamodb.delete_item(TableName=name, Key=request["DeleteRequest"]["Key"])
                except (ClientError, ParamValidationError):
                    continue  # DynamoDB never stored an item with this key


def client_item(item: Any) -> dict[str, Any]:
    """A saved item (binary in base64, as DynamoDB's JSON has it) as botocore takes it."""
    if not isinstance(item, dict):
        raise ValueError(f"an item is a JSON object, not {type(item).__name__}")
    return {str(name): _client_value(value) for name, value in item.items()}


def _client_value(value: Any) -> Any:
    if not (isinstance(value, dict) and len(value) == 1):
        raise ValueError(f"{json.dumps(value)[:60]} is not an attribute value")
    ((kind, inner),) = value.items()
    try:
        if kind == "B" and isinstance(inner, str):
            return {"B": base64.b64decode(inner, validate=True)}
        if kind == "BS" and isinstance(inner, list):
            return {"BS": [base64.b64decode(v, validate=True) for v in inner]}
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"{kind}: not base64 ({exc})") from None
    if kind == "M" and isinstance(inner, dict):
        return {"M": {str(k): _client_value(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_client_value(v) for v in inner]}
    if kind in ("B", "BS", "M", "L"):
        raise ValueError(f"{kind} holds a {type(inner).__name__}")
    return value  # the other types' values botocore and DynamoDB check
