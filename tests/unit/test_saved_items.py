"""Items as a snapshot saves them (DynamoDB's JSON) and as the restore writes them back."""

from __future__ import annotations

import json

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType

from emulator.restore import client_item
from emulator.snapshot import wire_value
from emulator.state import describe_age

ITEM = {
    "id": {"S": "x"},
    "n": {"N": "1.5"},
    "raw": {"B": b"\x00\xff"},
    "nested": {"M": {"list": {"L": [{"BS": [b"a", b"b"]}, {"NULL": True}, {"BOOL": False}]}}},
    "tags": {"SS": ["a", "b"]},
}


def test_binary_at_any_depth_survives_a_save_and_a_restore() -> None:
    """Binary values, in maps and lists too, are base64 in the file and bytes again for
    botocore; every other value comes back as it was."""
    saved = json.loads(json.dumps({k: wire_value(DynamoType(v)) for k, v in ITEM.items()}))
    assert saved["raw"] == {"B": "AP8="}
    assert saved["nested"]["M"]["list"]["L"][0] == {"BS": ["YQ==", "Yg=="]}
    assert client_item(saved) == ITEM


@pytest.mark.parametrize(
    "item",
    [[], {"id": "x"}, {"id": {"S": "x", "N": "1"}}, {"b": {"B": "not base64!"}}, {"m": {"M": []}}],
)
def test_what_is_not_an_item_is_refused_before_dynamodb(item: object) -> None:
    """Not an object of attribute values (or binary that isn't base64): a ValueError
    that names it, which the restore reports as the table's reason."""
    with pytest.raises(ValueError, match=r"\S"):
        client_item(item)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (119, "119 s"), (600, "10 min"), (7200, "2 h"), (4e5, "5 day(s)")],
)
def test_a_snapshots_age_is_said_in_its_largest_unit(seconds: float, text: str) -> None:
    """How old the restored snapshot is, as the start says it."""
    assert describe_age(seconds) == text
