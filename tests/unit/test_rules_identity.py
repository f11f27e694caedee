"""Unit tests of ``chat.rules``: who a key makes a user, and a room's id."""

from __future__ import annotations

import pytest

from chat import rules
from tests.unit.rules_helpers import (
    KEY,
    OTHER_KEY,
)

# --- user_id_for_key -----------------------------------------------------------


def test_user_id_for_key_is_stable() -> None:
    """The same key always gives the same user id."""
    assert rules.user_id_for_key(KEY) == rules.user_id_for_key(KEY)


def test_user_id_for_key_differs_per_key() -> None:
    """Different keys give different user ids."""
    assert rules.user_id_for_key(KEY) != rules.user_id_for_key(OTHER_KEY)


@pytest.mark.parametrize("key", [KEY, OTHER_KEY, "0" * 32])
def test_user_id_for_key_matches_pattern(key: str) -> None:
    """A user id matches USER_ID_PATTERN."""
    assert rules.USER_ID_PATTERN.match(rules.user_id_for_key(key))


@pytest.mark.parametrize("key", [KEY, OTHER_KEY])
def test_user_id_for_key_hides_key(key: str) -> None:
    """A user id contains neither the key nor a large piece of it."""
    user_id = rules.user_id_for_key(key)
    assert key not in user_id
    assert key[:16] not in user_id
    assert key[16:] not in user_id


def test_new_room_id_is_deterministic_with_injected_token() -> None:
    """The same token bytes always give the same room id."""

    def token(n: int) -> bytes:
        return bytes(range(n))

    assert rules.new_room_id(token) == rules.new_room_id(token)
    assert rules.new_room_id(token) == rules.ROOM_ID_ALPHABET[: rules.ROOM_ID_LENGTH]


# --- room ids ------------------------------------------------------------------


@pytest.mark.parametrize("fill", [0, 1, 30, 31, 127, 255])
def test_new_room_id_matches_pattern(fill: int) -> None:
    """Any token bytes give an id that matches ROOM_ID_PATTERN."""
    room_id = rules.new_room_id(lambda n: bytes([fill]) * n)
    assert rules.ROOM_ID_PATTERN.match(room_id)


def test_new_room_id_asks_for_room_id_length_bytes() -> None:
    """new_room_id draws exactly ROOM_ID_LENGTH bytes from the token function."""
    asked: list[int] = []

    def token(n: int) -> bytes:
        asked.append(n)
        return bytes(n)

    rules.new_room_id(token)
    assert asked == [rules.ROOM_ID_LENGTH]


def test_new_room_id_default_matches_pattern() -> None:
    """The default random room id matches ROOM_ID_PATTERN."""
    assert rules.ROOM_ID_PATTERN.match(rules.new_room_id())


def test_new_room_id_redraws_bytes_that_would_bias_it() -> None:
    """Bytes at or above the last whole multiple of the alphabet size are drawn again."""
    draws = iter([bytes([255, 0] * 5), bytes(range(10))])
    room_id = rules.new_room_id(lambda n: next(draws))
    alphabet = rules.ROOM_ID_ALPHABET
    assert room_id == alphabet[0] * 5 + alphabet[:5]
