"""The services' model files, kept decoded between runs: read in a millisecond, not ten.

botocore's model files are gzipped JSON: IAM's takes about 18 ms to read (unzip, then
decode), Lambda's 10 ms, and a start-up reads about fifteen (our clients' and moto's).
Once decoded, each file is kept in the user's cache (``XDG_CACHE_HOME``, else
``~/.cache``: ``ws-emulator/models``) in :mod:`marshal`'s format, which reads back in a
fifth to a seventh of that time. An entry's name is a hash of the file's path, size and
modification time and of the Python version (marshal's format is the interpreter's
own), so an upgraded botocore or moto, or another Python, gets entries of its own and
never reads a stale one. An entry that can't be read is decoded again and rewritten; a
cache that can't be written is skipped.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import template_cache

KEEP = 512  # entries kept (about twenty a botocore and moto release); the oldest go first


def cache_dir() -> Path:
    return template_cache.cache_dir().parent / "models"


def entry(path: str) -> Path | None:
    """Where the decoded model file at ``path`` is kept (None: there is no such file)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    text = f"{sys.version}\0{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return cache_dir() / f"{hashlib.sha256(text.encode()).hexdigest()}.marshal"


def load(path: str, decode: Callable[[], Any]) -> Any:
    """The model file at ``path`` decoded: read from the cache, or ``decode()``'s, kept;
    None when there is no such file (as botocore's file loader answers)."""
    kept = entry(path)
    if kept is None:
        return None
    try:
        return marshal.loads(kept.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        decoded = decode()  # not kept yet, or unreadable: decoded, and kept anew
    template_cache.keep_file(kept, marshal.dumps(decoded), KEEP)
    return decoded
