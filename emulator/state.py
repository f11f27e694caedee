"""Keep a stack's DynamoDB data across restarts of the embedded control plane.

moto keeps everything in memory, so the harness saves the tables while it serves
(:mod:`emulator.snapshot` copies them all at one moment) into one file,
``<directory>/snapshot.json``: written to a new file, flushed to disk, renamed over the
previous one, and the directory flushed, so that a crash at any point leaves either the
previous snapshot or the new one, whole. At the next start :class:`SavedState` puts back
the tables the stack has; a table that left the stack stays in every later snapshot, for
when it comes back.

Saved data that can't be restored is never overwritten or deleted: a file that isn't a
snapshot (not JSON, cut short, another format) is moved to ``<directory>/refused/``, and
a table that doesn't fit (its key changed, an item DynamoDB refuses, not a table record)
is copied there before the next save replaces the snapshot; beside each, a ``.why.txt``
says why. They stay until ``--fresh``. Format 1 (``tables/<name>.json``, one file per
table) is still read, and its files go once a snapshot holds their data.

The directory is locked while a process serves from it: two of them would overwrite each
other's snapshots.

``WS_EMULATOR_SAVE_HOOK`` is for the tests only: it names a file holding the name of one
step of the save (see :func:`step`); a save that reaches that step stops there (for ten
minutes, long enough for a test to kill the process at exactly that point).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from emulator.restore import Refused, put_table

FORMAT = 2
LEGACY_FORMAT = 1
SNAPSHOT = "snapshot.json"
LEGACY_DIR = "tables"
REFUSED_DIR = "refused"
_LOCK = ".lock"
_TEMPORARY = ".snapshot-*.tmp"
_SAVE_HOOK = os.environ.get("WS_EMULATOR_SAVE_HOOK")
_HOOK_STOP = 600.0  # seconds: an abandoned test's server finishes its save after this


class StateError(Exception):
    """The state directory can't be used; the message says why."""


def step(name: str) -> None:
    """A point between two steps of a save, where the tests' hook can stop it.

    The steps, in order: ``held`` (DynamoDB's requests held), ``copied`` (the copy
    taken, requests flowing again), ``table <name>`` (after each table is written to the
    new file), ``written``, ``synced`` (the new file on disk), ``renamed`` (it replaced
    the snapshot), ``saved`` (the directory on disk too).
    """
    if _SAVE_HOOK is None:
        return
    try:
        wanted = Path(_SAVE_HOOK).read_text().strip()
    except FileNotFoundError:
        return
    if wanted == name:
        print(f"save stopped at {name} (WS_EMULATOR_SAVE_HOOK)", file=sys.stderr, flush=True)
        threading.Event().wait(_HOOK_STOP)


@dataclass(frozen=True)
class TableCopy:
    """One table at the snapshot's moment: its key schema and its items."""

    name: str
    schema: dict[str, Any]
    items: list[dict[str, Any]]  # in DynamoDB's JSON format (binary in base64)


@dataclass
class Restored:
    """What a restore did, for one line of output."""

    directory: Path
    tables: int = 0
    items: int = 0
    saved_at: datetime | None = None
    notes: list[str] = field(default_factory=list)  # what was refused, and why
    kept: list[str] = field(default_factory=list)  # saved tables the stack doesn't have

    def summary(self, now: datetime | None = None) -> str:
        text = f"restored {self.tables} table(s), {self.items} item(s) from {self.directory}"
        if self.saved_at is not None:
            age = ((now or datetime.now(UTC)) - self.saved_at).total_seconds()
            text += f", saved {describe_age(age)} ago ({self.saved_at:%Y-%m-%d %H:%M:%S} UTC)"
        kept = [
            f"{name}: no longer in the stack, its data kept in {SNAPSHOT}" for name in self.kept
        ]
        return "; ".join([text, *self.notes, *kept])


def describe_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("day(s)", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


class SavedState:
    """A state directory: its snapshot, what was refused from it, and its lock.

    :meth:`open` locks it for this process and reads what is saved; :meth:`restore` puts
    back the tables a stack has; :meth:`write` saves a snapshot (with the saved tables
    the stack doesn't have, unchanged); :meth:`close` unlocks it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stale = False  # the snapshot on disk holds what was refused or superseded
        self._saved: dict[str, dict[str, Any]] = {}  # table → record, until restored
        self._saved_at: datetime | None = None
        self._notes: list[str] = []  # files refused while reading
        self._legacy: list[Path] = []  # format-1 files the next snapshot supersedes
        self._lock: IO[str] | None = None
        self._mutex = threading.Lock()  # one restore or write at a time

    def open(self, fresh: bool = False) -> None:
        """Lock the directory, forget it with ``fresh``, and read what it holds."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = (self.directory / _LOCK).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise StateError(
                f"{self.directory} is in use by another ws-emulator ({holder}): stop it, "
                "or choose another --state-dir"
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        self._lock = lock
        for leftover in self.directory.glob(_TEMPORARY):  # an interrupted save's
            leftover.unlink()
        if fresh:
            self._clear()
        self._read()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the lock; the file stays (another may hold it next)
            self._lock = None

    def _clear(self) -> None:
        removed = 0
        for path in [
            self.directory / SNAPSHOT,
            *(self.directory / LEGACY_DIR).glob("*.json"),
            *(self.directory / REFUSED_DIR).glob("*"),
        ]:
            if path.is_file():
                path.unlink()
                removed += 1
        if removed:
            self._notes.append(f"--fresh: removed {removed} saved file(s)")

    def _read(self) -> None:
        legacy = sorted((self.directory / LEGACY_DIR).glob("*.json"))
        path = self.directory / SNAPSHOT
        if path.exists():
            try:
                self._saved, self._saved_at = _parse_snapshot(path.read_bytes())
            except Refused as exc:
                self._notes.append(self._move_aside(path, str(exc)))
                return  # and format-1 files, older than that snapshot, stay as they are
            self._legacy = legacy  # restored by the run that wrote the snapshot
            self.stale = bool(legacy)
        else:
            for path in legacy:
                try:
                    name, record = _parse_legacy(path.read_bytes())
                except Refused as exc:
                    self._notes.append(self._move_aside(path, str(exc)))
                    continue
                self._saved[name] = record
                self._legacy.append(path)
                mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                self._saved_at = min(self._saved_at or mtime, mtime)
            self.stale = bool(self._legacy)
        for name, record in list(self._saved.items()):
            if (problem := _record_problem(record)) is not None:
                self._notes.append(self._refuse_table(name, record, problem))
                del self._saved[name]

    def restore(self, dynamodb: Any, names: Iterable[str]) -> Restored:
        """Put the saved tables among ``names`` (freshly deployed, empty) back."""
        with self._mutex:
            restored = Restored(self.directory, saved_at=self._saved_at, notes=self._notes)
            self._notes = []
            for name in names:
                record = self._saved.get(name)
                if record is None:
                    continue
                try:
                    restored.items += put_table(dynamodb, name, record)
                    restored.tables += 1
                except Refused as exc:
                    restored.notes.append(self._refuse_table(name, record, str(exc)))
                del self._saved[name]
            restored.kept = sorted(self._saved)
            return restored

    def write(self, copies: list[TableCopy], moment: datetime) -> None:
        """Save a snapshot of ``copies`` taken at ``moment``, atomically."""
        with self._mutex:
            # A saved table not restored yet stays as saved, even if the stack has it
            # again (deployed and empty, its restore waiting for this save to end).
            entries = [
                (c.name, json.dumps(c.schema), json.dumps(c.items))
                for c in copies
                if c.name not in self._saved
            ]
            entries += [
                (name, json.dumps(record["schema"]), json.dumps(record["items"]))
                for name, record in sorted(self._saved.items())
            ]
            path = self.directory / SNAPSHOT
            temporary = self.directory / f".snapshot-{os.getpid()}-{secrets.token_hex(4)}.tmp"
            try:
                with _private(temporary).open("w", encoding="utf-8") as file:
                    file.write(f'{{"format": {FORMAT}, "saved_at": "{moment.isoformat()}",')
                    file.write(' "tables": {')
                    for i, (name, schema, items) in enumerate(entries):
                        file.write(f"{',' if i else ''}\n{json.dumps(name)}: ")
                        file.write(f'{{"schema": {schema}, "items": {items}}}')
                        file.flush()
                        step(f"table {name}")
                    file.write("\n}}\n")
                    step("written")
                    file.flush()
                    os.fsync(file.fileno())
                step("synced")
                os.replace(temporary, path)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            step("renamed")
            _sync_directory(self.directory)
            step("saved")
            for superseded in self._legacy:
                superseded.unlink(missing_ok=True)
            if self._legacy and not any((self.directory / LEGACY_DIR).iterdir()):
                (self.directory / LEGACY_DIR).rmdir()
            self._legacy = []
            self.stale = False

    def _aside(self, name: str) -> Path:
        """A new path in the refused folder, named after when and what."""
        folder = self.directory / REFUSED_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"{stamp}-{name}"
        n = 1
        while path.exists() or _why(path).exists():
            n += 1
            path = folder / f"{stamp}-{n}-{name}"
        return path

    def _move_aside(self, path: Path, reason: str) -> str:
        target = self._aside(path.name)
        _write_durably(_why(target), _explain(reason, f"It was moved here from {path}."))
        os.rename(path, target)
        _sync_directory(target.parent)
        _sync_directory(path.parent)
        self.stale = True
        return f"{path.name}: {reason}; moved to {target} (kept until --fresh)"

    def _refuse_table(self, name: str, record: Any, reason: str) -> str:
        target = self._aside(f"{name}.json")
        moment = (self._saved_at or datetime.now(UTC)).isoformat()
        data = {"format": FORMAT, "saved_at": moment, "tables": {name: record}}
        _write_durably(target, json.dumps(data).encode())
        _write_durably(
            _why(target),
            _explain(
                f"{name}: {reason}",
                f"Its saved data was copied here from {self.directory / SNAPSHOT}, which no "
                "longer holds it after the next save.",
            ),
        )
        self.stale = True
        return f"{name}: {reason}, not restored; moved to {target} (kept until --fresh)"


def _why(path: Path) -> Path:
    return path.with_name(path.name + ".why.txt")


def _explain(reason: str, origin: str) -> bytes:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"ws-emulator did not restore this at its start on {when}:\n\n    {reason}\n\n"
        f"{origin} It stays here, unread and unchanged, until you start with --fresh "
        "(which deletes it).\n"
    ).encode()


def _write_durably(path: Path, data: bytes) -> None:
    temporary = _private(path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp"))
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _sync_directory(path.parent)


def _private(path: Path) -> Path:
    """Create an empty file only its owner can read (the tables are the users' data)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename in it) to disk."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:  # also bytes that aren't UTF-8
        raise Refused(f"not JSON, cut short or damaged ({exc})") from exc


def _parse_snapshot(data: bytes) -> tuple[dict[str, dict[str, Any]], datetime | None]:
    record = _load_json(data)
    if not isinstance(record, dict) or "format" not in record:
        raise Refused(f"not a snapshot (a JSON {type(record).__name__} with no format)")
    if record["format"] != FORMAT:
        raise Refused(f"saved in format {record['format']!r}; this version reads {FORMAT}")
    tables = record.get("tables")
    if not isinstance(tables, dict):
        raise Refused("a snapshot with no tables")
    try:
        saved_at = datetime.fromisoformat(record["saved_at"])
    except (KeyError, TypeError, ValueError):
        raise Refused("a snapshot with no time") from None
    return tables, saved_at if saved_at.tzinfo else saved_at.replace(tzinfo=UTC)


def _parse_legacy(data: bytes) -> tuple[str, dict[str, Any]]:
    record = _load_json(data)
    if not isinstance(record, dict) or not isinstance(record.get("table"), str):
        raise Refused(f"not a saved table (a JSON {type(record).__name__} with no table name)")
    if record.get("format") != LEGACY_FORMAT:
        raise Refused(
            f"saved in format {record.get('format')!r}; this version reads {LEGACY_FORMAT}"
        )
    return record["table"], {"schema": record.get("schema"), "items": record.get("items")}


def _record_problem(record: Any) -> str | None:
    """Why a saved table can't be one, or None."""
    if not isinstance(record, dict):
        return f"not a saved table (a JSON {type(record).__name__})"
    schema, items = record.get("schema"), record.get("items")
    if not (
        isinstance(schema, dict)
        and isinstance(schema.get("keys"), list)
        and all(
            isinstance(key, list) and len(key) == 3 and all(isinstance(p, str) for p in key)
            for key in schema["keys"]
        )
        and schema.get("names") == [key[0] for key in schema["keys"]]
    ):
        return "its key schema is unreadable"
    if not isinstance(items, list):
        return "its items are not a list"
    return None
