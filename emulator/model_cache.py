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

Our clients and moto read most of the same files (a service's model: botocore's, which
moto's loader finds too), each loader keeping what it read: two copies of each model a
stack uses, about 1.4 MB each. :func:`load_shared` keeps one decoded copy per file for
the process, for the files no loader changes once read (:func:`unextended`): a loader
merges a model's ``sdk-extras`` (botocore's) or ``moto-extras`` (moto's) into the dict it
read, and that merge must stay its own.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import threading
from collections.abc import Callable, Iterable
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


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def load_shared(path: str, decode: Callable[[], Any]) -> Any:
    """:func:`load`'s answer, read once per process: every later caller gets the same
    object (so it must never be changed: see :func:`unextended`)."""
    with _SHARED_LOCK:
        if path not in _SHARED:
            _SHARED[path] = load(path, decode)
        return _SHARED[path]


def unextended(path: str, roots: Iterable[str]) -> bool:
    """Whether no loader merges extras into the model file at ``path``: no
    ``<type>.<kind>-extras.json`` (or ``.json.gz``) beside its ``<service>/<version>``
    in any of ``roots`` (botocore's data, moto's). Files outside that layout
    (``endpoints.json``) get no extras."""
    parts = os.path.normpath(path).split(os.sep)
    if len(parts) < 3:
        return True
    service, version, name = parts[-3:]
    kind = name.split(".", 1)[0]  # service-2, paginators-1, waiters-2
    if kind == name or not version[:4].isdigit():
        return True
    for root in roots:
        folder = os.path.join(root, service, version)
        for extras in ("sdk", "moto"):
            for suffix in (".json", ".json.gz"):
                if os.path.exists(os.path.join(folder, f"{kind}.{extras}-extras{suffix}")):
                    return False
    return True
