"""What counts as acceptable text: names, room names and messages.

Names must not disguise themselves (no control, bidi or zero-width characters, at least
one visible character); messages may hold line breaks and tabs, nothing else invisible
that could break a screen.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from chat.errors import InvalidPayload

NAME_MAX = 32
ROOM_NAME_MAX = 64
TEXT_MAX = 2000

# Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern,
# Khmer's inherent vowels. Unicode counts them as letters, so they'd pass for a name.
INVISIBLE_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
_NOT_DRAWN = frozenset({"Cc", "Cf", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
ZERO_WIDTH_JOINER = "\u200d"  # format character, but part of emoji like 👨‍👩‍👧


def encodable(text: str) -> bool:
    """Whether UTF-8 can carry the text (JSON's unpaired ``\\ud800`` escapes can't)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def text_field(payload: Mapping[str, Any], field: str, max_length: int, *, multiline: bool) -> str:
    """A required text field, trimmed, within ``max_length`` code points, without
    forbidden characters and with something visible."""
    value = payload.get(field)
    if value is None:
        raise InvalidPayload(f"{field} is required", field=field)
    if not isinstance(value, str):
        raise InvalidPayload(f"{field} must be a string", field=field)
    if not encodable(value):
        raise InvalidPayload(f"{field} must not contain lone surrogates", field=field)
    value = _trim(value.replace("\r\n", "\n"))
    if not value:
        raise InvalidPayload(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidPayload(
            f"{field} is {len(value)} characters; the limit is {max_length}",
            field=field,
            limit=max_length,
        )
    if any(_forbidden(ch, multiline) for ch in value):
        raise InvalidPayload(f"{field} must not contain control characters", field=field)
    if not any(_visible(ch) for ch in value):
        raise InvalidPayload(f"{field} must have a visible character", field=field)
    return value


def display_name(payload: Mapping[str, Any], field: str = "name") -> str:
    """A display name: one line of at most ``NAME_MAX`` characters (at ``$connect`` and
    at ``rename`` alike)."""
    return text_field(payload, field, NAME_MAX, multiline=False)


def _trim(value: str) -> str:
    """Strip white space and invisible fillers from both ends."""
    start, end = 0, len(value)
    while start < end and (value[start].isspace() or value[start] in INVISIBLE_FILLERS):
        start += 1
    while end > start and (value[end - 1].isspace() or value[end - 1] in INVISIBLE_FILLERS):
        end -= 1
    return value[start:end]


def _visible(ch: str) -> bool:
    """Whether the character draws something by itself (a combining accent alone doesn't)."""
    return ch not in INVISIBLE_FILLERS and unicodedata.category(ch) not in _NOT_DRAWN


def _forbidden(ch: str, multiline: bool) -> bool:
    """Control characters; in one-line text also line breaks and invisible formatting
    (bidi overrides and the like) that could disguise a name."""
    category = unicodedata.category(ch)
    if multiline:
        return category == "Cc" and ch not in "\n\t"
    return category in ("Cc", "Zl", "Zp") or (category == "Cf" and ch != ZERO_WIDTH_JOINER)
