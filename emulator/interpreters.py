"""The interpreters functions run on, found on the machine, and what each one needs.

A ``python3.X`` function runs on a Python 3.X when the machine has one: given with
``--python 3.X=/path/to/python``, on ``PATH`` as ``python3.X``, among pyenv's versions
(``$PYENV_ROOT/versions``, default ``~/.pyenv/versions``) or uv's managed Pythons
(``$UV_PYTHON_INSTALL_DIR``, default ``~/.local/share/uv/python``). Each one gets boto3
and botocore as Lambda's runtime has them: the emulator's own pinned pair, installed
for that version once into a cached runtime folder (the emulator's own interpreter
links its installed copies instead). Without a matching interpreter, the emulator's
own runs those functions, and start-up says so in one line.

``node`` is the machine's (``PATH``); a function whose ``nodejs*.x`` asks for another
major version than it is still runs on it, and start-up says so once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("emulator.runtimes")

_PROBE = "import json, sys; print(json.dumps([sys.executable, list(sys.version_info[:3])]))"
_PINNED = ("boto3", "botocore")


class InterpreterError(Exception):
    """An interpreter given on the command line can't be used; the message says why."""


@dataclass(frozen=True)
class Python:
    """An interpreter, by its real executable and version."""

    executable: Path
    version: tuple[int, int, int]

    @property
    def minor(self) -> tuple[int, int]:
        return (self.version[0], self.version[1])

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version))


def current() -> Python:
    """The emulator's own interpreter."""
    major, minor, micro = sys.version_info[:3]
    return Python(Path(sys.executable), (major, minor, micro))


def probe(executable: Path | str) -> Python | None:
    """The interpreter at ``executable`` (a shim or link is followed), or None."""
    try:
        done = subprocess.run(
            [str(executable), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        path, version = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not path:
        return None
    return Python(Path(path), (int(version[0]), int(version[1]), int(version[2])))


def _candidates(minor: tuple[int, int], home: Path) -> Iterator[Path]:
    name = f"python{minor[0]}.{minor[1]}"
    on_path = shutil.which(name)
    if on_path:
        yield Path(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or home / ".local/share/uv/python")
    prefixes = [(pyenv, f"{minor[0]}.{minor[1]}."), (uv, f"cpython-{minor[0]}.{minor[1]}.")]
    for root, prefix in prefixes:
        if not root.is_dir():
            continue
        found = [p for p in root.iterdir() if p.name.startswith(prefix)]
        for folder in sorted(found, key=lambda p: _release(p.name), reverse=True):
            if (folder / "bin" / name).exists():
                yield folder / "bin" / name


def _release(name: str) -> tuple[int, ...]:
    """``3.12.1`` or ``cpython-3.12.1-linux-x86_64-gnu`` as (3, 12, 1), for sorting."""
    numbers = name.removeprefix("cpython-").split("-")[0].split(".")
    return tuple(int(n) for n in numbers if n.isdigit())


def parse_overrides(pairs: list[str]) -> dict[str, Path]:
    """``--python 3.12=/path/to/python`` items as {"3.12": path}; bad ones raise."""
    given: dict[str, Path] = {}
    for pair in pairs:
        version, sep, path = pair.partition("=")
        parts = version.split(".")
        if not sep or not path or len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise InterpreterError(
                f"--python {pair!r}: write VERSION=PATH, e.g. 3.12=/usr/bin/python3.12"
            )
        given[version] = Path(path).expanduser()
    return given


class Pythons:
    """Finds (once per version) the interpreter each ``python3.X`` runtime runs on."""

    def __init__(self, given: Mapping[str, Path] | None = None, home: Path | None = None) -> None:
        self._given = dict(given or {})
        self._home = home or Path.home()
        self._found: dict[tuple[int, int], Python | None] = {}

    def find(self, minor: tuple[int, int]) -> Python | None:
        """A Python ``minor`` on this machine, or None."""
        if minor in self._found:
            return self._found[minor]
        found: Python | None = None
        label = f"{minor[0]}.{minor[1]}"
        if label in self._given:
            found = probe(self._given[label])
            if found is None or found.minor != minor:
                what = "is not a Python" if found is None else f"is Python {found.label}"
                raise InterpreterError(f"--python {label}={self._given[label]}: that {what}")
        elif current().minor == minor:
            found = current()
        else:
            for candidate in _candidates(minor, self._home):
                python = probe(candidate)
                if python is not None and python.minor == minor:
                    found = python
                    break
        self._found[minor] = found
        return found


def _installed_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


def runtime_cache_dir() -> Path:
    """Where each Python version's boto3/botocore is kept (``XDG_CACHE_HOME`` honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ws-emulator" / "python-runtime"


def install_sdk(python: Python, cache_dir: Path | None = None) -> Path:
    """boto3 and botocore (the emulator's pinned pair) for ``python``, installed once.

    pip installs them for that version (``--python-version``, wheels only) into a folder
    named after the version and the pins; a second call finds it there.
    """
    pins = [f"{name}=={_installed_version(name)}" for name in _PINNED]
    label = f"{python.minor[0]}.{python.minor[1]}"
    digest = hashlib.sha256(" ".join(pins).encode()).hexdigest()[:12]
    cache_dir = cache_dir or runtime_cache_dir()
    target = cache_dir / f"python{label}-{digest}"
    if target.is_dir():
        return target
    log.info("  Installing %s for Python %s (once, into %s)…", " and ".join(pins), label, target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".python{label}-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--only-binary=:all:",
        "--python-version",
        label,
        "--target",
        str(staging),
        *pins,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"pip exited with {done.returncode}"
        raise InterpreterError(
            f"{' and '.join(pins)} can't be installed for Python {label}: {reason}"
        )
    try:
        staging.rename(target)
    except OSError:  # another emulator installed the same meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target
