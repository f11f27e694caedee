"""DynamoDB's answers from the embedded moto: items written as stored give exactly what
moto's own serialiser gives, type by type, and anything unusual takes moto's way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.core.serialize import JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler

from emulator import moto_items

# Attribute values as moto keeps them: the wire form, binary ones as bytes.
ITEM: dict[str, Any] = {
    "pk": {"S": "room#1"},
    "empty": {"S": ""},
    "text": {"S": 'é€😀 "quoted" \\ back'},
    "number": {"N": "-1.50E+3"},
    "binary": {"B": b"\x00\x01\xffhi"},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.0"]},
    "binaries": {"BS": [b"\x01", b""]},
    "nothing": {"NULL": True},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "map": {
        "M": {
            "inner": {"S": "x"},
            "list": {"L": [{"N": "3"}, {"NULL": True}, {"M": {}}, {"B": b"zz"}, {"L": []}]},
        }
    },
}


def answer(operation: str, result: dict[str, Any]) -> Any:
    model = get_service_model("dynamodb").operation_model(operation)
    picker = XFormedAttributePicker(  # as moto's responses pick values
        response_transformers=getattr(DynamoHandler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
    )
    serializer = JSONSerializer(operation_model=model, value_picker=picker)
    return json.loads(serializer.serialize(result)["body"])


def both_ways(operation: str, result: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    moto_items.install()
    fast = answer(operation, result)
    with monkeypatch.context() as patch:
        wrapped = JSONSerializer._serialize_type_structure.__wrapped__  # type: ignore[attr-defined]
        patch.setattr(JSONSerializer, "_serialize_type_structure", wrapped)
        slow = answer(operation, result)
    assert fast == slow
    return fast


def test_every_type_is_written_as_moto_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    query = {
        "Items": [ITEM, ITEM],
        "Count": 2,
        "ScannedCount": 2,
        "LastEvaluatedKey": {"pk": ITEM["pk"]},
    }
    written = both_ways("Query", query, monkeypatch)
    assert written["Items"][0]["binary"] == {"B": "AAH/aGk="}
    assert written["Items"][0]["map"]["M"]["list"]["L"][3] == {"B": "eno="}
    both_ways("GetItem", {"Item": ITEM}, monkeypatch)
    both_ways("UpdateItem", {"Attributes": ITEM}, monkeypatch)
    both_ways("BatchGetItem", {"Responses": {"t": [ITEM]}, "UnprocessedKeys": {}}, monkeypatch)


@pytest.mark.parametrize(
    "value",
    [
        {"N": 5},  # a number kept as a number: moto's serialiser makes it text
        {"S": None},  # a member with no value: moto's leaves it out
        {"X": "y"},  # a member the model doesn't have: moto's leaves it out
        {"M": {"a": {"N": 1.5}}},  # deep inside a map
        {"L": [{"SS": ("a",)}]},  # a tuple, not a list
    ],
)
def test_anything_unusual_is_written_by_motos_serialiser(
    value: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(moto_items._NotPlain):
        moto_items.wire(value)
    both_ways("GetItem", {"Item": {"pk": {"S": "k"}, "odd": value}}, monkeypatch)


def test_install_wraps_once() -> None:
    moto_items.install()
    once = JSONSerializer._serialize_type_structure
    moto_items.install()
    assert JSONSerializer._serialize_type_structure is once
    assert not hasattr(once.__wrapped__, "__wrapped__")  # type: ignore[attr-defined]
