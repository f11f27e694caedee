"""Ids: of users (derived from their secret key), of rooms and of messages."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

KEY_LENGTH = 32  # hex digits: 128 bits
ROOM_ID_LENGTH = 10
ROOM_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i

KEY_PATTERN = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}$")
ROOM_ID_PATTERN = re.compile(rf"^[{ROOM_ID_ALPHABET}]{{{ROOM_ID_LENGTH}}}$")
USER_ID_PATTERN = re.compile(r"^u[0-9a-f]{20}$")
MESSAGE_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")


def user_id_for_key(key: str) -> str:
    """The stable user id bound to a secret key; the key can't be recovered from it."""
    return "u" + hashlib.sha256(f"chat-user:{key}".encode()).hexdigest()[:20]


def new_room_id(token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """Random id over the alphabet; bytes past the last whole multiple are redrawn."""
    size = len(ROOM_ID_ALPHABET)
    usable = 256 - 256 % size
    chars: list[str] = []
    for _ in range(8):
        chars.extend(ROOM_ID_ALPHABET[b % size] for b in token(ROOM_ID_LENGTH) if b < usable)
        if len(chars) >= ROOM_ID_LENGTH:
            return "".join(chars[:ROOM_ID_LENGTH])
    # Only a source stuck on the top byte values gets here; stay total all the same.
    chars.extend(ROOM_ID_ALPHABET[b % size] for b in token(ROOM_ID_LENGTH))
    return "".join(chars[:ROOM_ID_LENGTH])


def new_message_id(token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    return token(8).hex()
