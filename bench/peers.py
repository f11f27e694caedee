"""The peers' installations, pinned, kept in a cache directory outside the repository.

- serverless-offline: npm, exact versions in ``bench/peers/package.json``; npm's
  lockfile stays in the cache directory, beside ``node_modules`` (never committed).
- MiniStack: pip, ``bench/peers/ministack-requirements.txt``, in its own virtual
  environment (it pins its own botocore; boto3 is there for its Lambda workers,
  as Lambda's Python runtime provides it).

``BENCH_PEERS_DIR`` moves the cache (default ``~/.cache/chat-bench-peers``). A peer
that can't be installed is reported by the bench as skipped, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

PINS = Path(__file__).resolve().parent / "peers"
PACKAGE_JSON = PINS / "package.json"
MINISTACK_REQUIREMENTS = PINS / "ministack-requirements.txt"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "chat-bench-peers"
    return Path(os.environ.get("BENCH_PEERS_DIR") or default)


_INSTALLING = threading.Lock()  # the Python and Node.js setups start at once


class Unavailable(Exception):
    """A peer can't be installed or started here; the message says why."""


@dataclass(frozen=True)
class Installed:
    root: Path
    version: str


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{what} failed: {' / '.join(tail)}")


def _fresh(marker: Path, pins: Path) -> bool:
    return marker.exists() and marker.read_text() == pins.read_text()


def serverless_offline() -> Installed:
    """``node_modules`` with serverless@3 and serverless-offline, installed once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise Unavailable("Node.js (node and npm) is not installed")
    root = cache_dir() / "node"
    marker = root / ".installed"
    with _INSTALLING:
        if not _fresh(marker, PACKAGE_JSON):
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy(PACKAGE_JSON, root / "package.json")
            _run(["npm", "install", "--no-audit", "--no-fund"], root, "npm install")
            marker.write_text(PACKAGE_JSON.read_text())
    package = root / "node_modules" / "serverless-offline" / "package.json"
    if not package.exists():
        raise Unavailable(f"npm install left no {package}")
    return Installed(root, json.loads(package.read_text())["version"])


def ministack() -> Installed:
    """A virtual environment with MiniStack, installed once."""
    root = cache_dir() / "ministack"
    marker = root / ".installed"
    with _INSTALLING:
        if not _fresh(marker, MINISTACK_REQUIREMENTS):
            if root.exists():
                shutil.rmtree(root)
            cache_dir().mkdir(parents=True, exist_ok=True)
            _run([sys.executable, "-m", "venv", str(root)], cache_dir(), "python -m venv")
            pip = [str(root / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
            _run([*pip, "-r", str(MINISTACK_REQUIREMENTS)], root, "pip install ministack")
            marker.write_text(MINISTACK_REQUIREMENTS.read_text())
    if not (root / "bin" / "ministack").exists():
        raise Unavailable(f"pip left no {root / 'bin' / 'ministack'}")
    version = next(
        line.split("==")[1]
        for line in MINISTACK_REQUIREMENTS.read_text().splitlines()
        if line.lower().startswith("ministack==")
    )
    return Installed(root, version)
