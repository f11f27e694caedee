"""A state directory as the tests see it: what each table's saved data is, and the
serves that read and write it (``python -m emulator serve --state-dir``, as a user runs it).

The readers find a table's record in ``snapshot.json``, or, where there is none, in a
``tables/<name>.json`` of its own (the layout of earlier versions): the same test reads
either, so that it fails on an earlier version for the reason it tests.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests import served
from tests.timing import seconds

CHAT = "scripts.stack:CHAT"
SNAPSHOT = "snapshot.json"
HOOK = "WS_EMULATOR_SAVE_HOOK"  # the save stops at the step this file names


def serve(state: Path, *args: str, stack: str = CHAT, hook: Path | None = None) -> served.Served:
    """``serve --state-dir state``, ready (its banner printed)."""
    env = {HOOK: str(hook)} if hook is not None else None
    running = served.start(stack, "--state-dir", str(state), *args, env=env)
    running.wait_for("Press Ctrl-C to stop.")
    return running


def stop(running: served.Served) -> None:
    """Ctrl-C: it stops cleanly, in one line."""
    assert running.stop() == 0, running.output
    assert running.lines[-1] == "Stopping… stopped.", running.output
    assert "Traceback" not in running.output


def kill(running: served.Served) -> None:
    """kill -9, as a crash or a power cut would end it: no chance to save."""
    os.killpg(running.process.pid, signal.SIGKILL)
    running.process.wait(timeout=seconds(30))


def restored_line(running: served.Served) -> str:
    return running.wait_for(r"^  restored .*")[0].strip()


def holder(state: Path, table: str) -> Path:
    """The file that holds a table's saved data."""
    snapshot = state / SNAPSHOT
    return snapshot if snapshot.exists() else state / "tables" / f"{table}.json"


def tables(state: Path) -> dict[str, Any]:
    """Every saved table's record (its ``schema`` and ``items``), by table name."""
    snapshot = state / SNAPSHOT
    if snapshot.exists():
        return dict(json.loads(snapshot.read_text())["tables"])
    records = [json.loads(p.read_text()) for p in (state / "tables").glob("*.json")]
    return {r["table"]: r for r in records if isinstance(r, dict) and "table" in r}


def items(state: Path, table: str) -> list[dict[str, Any]]:
    return list(tables(state).get(table, {}).get("items", []))


def keys(state: Path, table: str, names: tuple[str, ...] = ("roomId", "sk")) -> set[str]:
    """The saved items' keys."""
    return {json.dumps([item.get(name) for name in names]) for item in items(state, table)}


def replace(state: Path, table: str, record: Any) -> None:
    """Save ``record`` in place of a table's saved data, in whichever file holds it."""
    path = holder(state, table)
    if path.name == SNAPSHOT:
        snapshot = json.loads(path.read_text())
        snapshot["tables"][table] = record
        path.write_text(json.dumps(snapshot))
    else:
        path.write_text(json.dumps(record))


def record(state: Path, table: str) -> Any:
    """A table's saved record exactly as its file holds it (a whole file in old layouts)."""
    path = holder(state, table)
    data = json.loads(path.read_text())
    return data["tables"][table] if path.name == SNAPSHOT else data


def refused(state: Path) -> dict[Path, str]:
    """Each file set aside at a start, with the reason written beside it."""
    folder = state / "refused"
    reasons = {p: p.read_text() for p in folder.glob("*.why.txt")} if folder.exists() else {}
    return {p.with_name(p.name.removesuffix(".why.txt")): why for p, why in reasons.items()}
