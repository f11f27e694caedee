"""moto's DynamoDB answers written out as stored: items are not walked member by member.

moto serialises each answer from the service's model, and an item's every attribute
value is a structure of ten possible members (``S``, ``N``, ``B``, ``SS``, ``NS``, ``BS``,
``M``, ``L``, ``NULL``, ``BOOL``): for each it builds a context object and tries several
spellings of the member's name on the value, whether the value has it or not. A Query
of 100 items of four attributes took 27 ms, 20 of them in that walk (cProfile: 4,000
member look-ups per Query), once for every message a chat broadcasts.

moto keeps an attribute value in its wire form already (``{"S": "text"}``,
``{"M": {...}}``), except binary ones, which it keeps as bytes. So a value made only of
the members above, with the types the model gives them, is written as it is, its bytes
base64-encoded as the serialiser would; anything else (a member or a type this doesn't
know) goes the serialiser's way, so the answer never differs from moto's own
(``tests/unit/test_moto_items.py`` checks both ways give the same, type by type).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any

from moto.core.serialize import JSONSerializer

_SHAPE = "AttributeValue"
_SERVICE = "dynamodb"


class _NotPlain(Exception):
    """A value the fast path doesn't know: the serialiser's way."""


def _text(value: Any) -> str:
    if type(value) is not str:
        raise _NotPlain
    return value


def _blob(value: Any) -> str:
    if not isinstance(value, bytes | bytearray):
        raise _NotPlain
    return base64.b64encode(value).decode("ascii")


def _flag(value: Any) -> bool:
    if type(value) is not bool:
        raise _NotPlain
    return value


def _each(convert: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def each(value: Any) -> list[Any]:
        if type(value) is not list:
            raise _NotPlain
        return [convert(member) for member in value]

    return each


def _map(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _NotPlain
    return {_text(name): wire(member) for name, member in value.items()}


_MEMBERS: dict[str, Callable[[Any], Any]] = {
    "S": _text,
    "N": _text,
    "B": _blob,
    "SS": _each(_text),
    "NS": _each(_text),
    "BS": _each(_blob),
    "M": _map,
    "NULL": _flag,
    "BOOL": _flag,
}


def wire(value: Any) -> dict[str, Any]:
    """An attribute value as DynamoDB's JSON writes it; :class:`_NotPlain` if it has a
    member or a type the model doesn't give it."""
    if type(value) is not dict:
        raise _NotPlain
    written = {}
    for member, content in value.items():
        convert = _MEMBERS.get(member)
        if convert is None:
            raise _NotPlain
        written[member] = convert(content)
    return written


_MEMBERS["L"] = _each(wire)


def _plain_values(
    structure: Callable[[JSONSerializer, Any, Any, Any, str], None],
) -> Callable[[JSONSerializer, Any, Any, Any, str], None]:
    @functools.wraps(structure)
    def serialize(self: JSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == _SHAPE
            and self.operation_model.service_model.service_name == (_SERVICE)
        ):
            try:
                written = wire(value)
            except _NotPlain:
                pass
            else:
                self._default_serialize(serialized, written, shape, key)
                return
        structure(self, serialized, value, shape, key)

    return serialize


def install() -> None:
    """DynamoDB's attribute values written as stored (once per process)."""
    structure = JSONSerializer._serialize_type_structure
    if not hasattr(structure, "__wrapped__"):  # functools.wraps marks ours
        JSONSerializer._serialize_type_structure = _plain_values(structure)  # type: ignore[method-assign,assignment]
