"""What reading a template costs once: cfn-lint's decoding and SAM's expansion, cached.

Importing cfn-lint (its rules, sympy, jsonschema) and AWS's SAM translator is most of
the time ``serve template.yaml`` takes before it is ready, and both give the same
answer for the same input. So their results are kept in the user's cache
(``XDG_CACHE_HOME``, else ``~/.cache``: ``ws-emulator/templates``), as JSON, keyed by
a hash of everything the answer depends on: the file's bytes, or the decoded template,
the parameter values it can see, the region and the code's folder; and the library's
version. A changed template, parameter or library is a new key, so a cached answer is
never stale (deleting the folder is always safe). Only answers are cached: a template
that fails is decoded again each time, and says why. A cache that can't be read or
written is skipped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
KEEP = 256  # entries kept; the oldest go first


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ws-emulator" / "templates"


def key(distribution: str, *parts: Any) -> str:
    """A hash of ``parts`` (JSON) and the version of the library that answers."""
    text = json.dumps([importlib.metadata.version(distribution), *parts], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cached(kind: str, name: str, compute: Callable[[], T], keep: Callable[[], bool]) -> T:
    """The cached answer for ``name``, or ``compute()``'s, kept if ``keep()`` says so."""
    path = cache_dir() / f"{kind}-{name}.json"
    try:
        answer: T = json.loads(path.read_text())["answer"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    else:
        return answer
    computed = compute()
    try:
        text = json.dumps({"answer": computed})
    except (TypeError, ValueError):
        return computed  # not JSON: not cached
    if keep():
        keep_file(path, text.encode(), KEEP)
    # What a later run reads back, so that the first run sees exactly the same.
    fresh: T = json.loads(text)["answer"]
    return fresh


def keep_file(path: Path, data: bytes, keep: int) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it), then keep
    only the ``keep`` newest files of its kind (its suffix) in its folder. A cache that
    can't be written is skipped: the next run computes the answer again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", dir=path.parent, prefix=".", suffix=".tmp", delete=False
        ) as file:
            file.write(data)
        os.replace(file.name, path)
        entries = sorted(
            path.parent.glob(f"*{path.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
