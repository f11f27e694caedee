"""Issue 23's spawn → Ready and idle memory, and the import profile of a slow spawn.

A server is started from nothing until it serves (ours: its banner's WebSocket API
line; serverless-offline: its WebSocket port; MiniStack: ready, and the bench's stack
deployed with boto3), for the example project, the chat and the bench's stack; once its
process tree is idle, the RSS and PSS of every process in it are added up.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from bench import processes, proctree, setups
from bench.rounds import deselect, interleave, why

EXAMPLE = processes.ROOT / "tests" / "fixtures" / "example-project"
STARTUP_TIMEOUT = 120
IDLE_TIMEOUT = 20.0  # for the tree to go quiet after Ready (workers warmed in the background)
READY_TARGET_S = 1.0  # issue 23's: a spawn slower than this is profiled (its imports)
IDLE_TARGET_MB = 100.0  # issue 23's, the example project's idle tree (RSS): a miss is profiled
IMPORT_TOP = 8


def _ours(stack: str) -> list[str]:
    return processes.python("emulator", "serve", stack, "--port", "0", "--quiet")


@dataclass(frozen=True)
class Spawned:
    key: str
    label: str
    command: list[str] | None  # None: started as the broadcast bench starts it


SPAWNED = (
    Spawned(
        "ours-example",
        "ours, the example project (1 function)",
        _ours(str(EXAMPLE / "template.yaml")),
    ),
    Spawned("ours-chat", "ours, the chat (`scripts.stack:CHAT`)", _ours("scripts.stack:CHAT")),
    Spawned("ours", "ours, the bench's stack (4 functions)", None),
    Spawned("serverless-offline", "serverless-offline, the bench's stack", None),
    Spawned("ministack", "MiniStack, the bench's stack (deployed with boto3)", None),
)
SETUPS = tuple(s.key for s in SPAWNED)
_SETUPS = {s.key: s for s in setups.SETUPS}


@dataclass
class Startup:
    ready_s: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    failed: str = ""


@dataclass
class Imports:
    """``python -X importtime`` of one spawn, up to Ready: its imports by package."""

    ready_s: float
    total_s: float  # every module's own import time
    top: list[tuple[str, float]]  # (top-level package, its modules' own seconds), slowest first


@dataclass(frozen=True)
class Resident:
    """Where one idle spawn's resident memory is, by what it is mapped from."""

    rss: int
    top: list[tuple[str, int]]  # (package, library or anonymous memory, bytes), most first


def _spawn(spawned: Spawned, workdir: Path) -> subprocess.Popen[str]:
    if spawned.command is not None:
        log = workdir / f"{spawned.key}.log"
        process, _ = processes.start_server(spawned.command, log, STARTUP_TIMEOUT, setups.OURS_URL)
        return process
    process, _, _ = setups.start_server(_SETUPS[spawned.key], workdir)
    return process


def _startup_round(spawned: Spawned, workdir: Path, result: Startup) -> str:
    # A directory of its own: a log read for the announcement must be this process's.
    workdir = workdir / f"spawn-{spawned.key}-{len(result.ready_s) + 1}"
    workdir.mkdir()
    started = time.monotonic()
    process = _spawn(spawned, workdir)
    try:
        result.ready_s.append(time.monotonic() - started)
        proctree.wait_idle(process.pid, IDLE_TIMEOUT)
        members = proctree.tree(process.pid)
        result.rss.append(proctree.rss_bytes(members))
        result.pss.append(proctree.pss_bytes(members))
        result.processes.append(len(members))
    finally:
        processes.stop(process)
    return (
        f"ready in {result.ready_s[-1]:.2f} s, idle {result.rss[-1] / 2**20:,.0f} MB RSS, "
        f"{result.pss[-1] / 2**20:,.0f} MB PSS"
    )


def import_profile(spawned: Spawned, workdir: Path, top: int = IMPORT_TOP) -> Imports:
    """Spawn once more under ``-X importtime``; what the imports before Ready cost."""
    if spawned.command is None:
        raise ValueError(f"{spawned.key} is not a command of ours")
    command = [spawned.command[0], "-X", "importtime", *spawned.command[1:]]
    log = workdir / f"importtime-{spawned.key}.log"
    started = time.monotonic()
    process, _ = processes.start_server(command, log, STARTUP_TIMEOUT, setups.OURS_URL)
    ready = time.monotonic() - started
    text = log.read_text(errors="replace")  # before anything after Ready adds to it
    processes.stop(process)
    packages: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        own, _, name = line[len("import time:") :].split("|")
        if own.strip().isdigit():  # not the header
            package = name.strip().split(".")[0]
            packages[package] = packages.get(package, 0.0) + int(own) / 1e6
    slowest = sorted(packages.items(), key=lambda p: -p[1])
    return Imports(ready, sum(packages.values()), slowest[:top])


def measure_startup(
    rounds: int,
    workdir: Path,
    say: Callable[[str], None],
    selected: Collection[str] = SETUPS,
) -> dict[str, Startup]:
    """Spawn → Ready and idle memory of the ``selected`` spawns, in interleaved rounds."""
    results = {s.key: Startup() for s in SPAWNED}
    deselect(results, lambda key: key in selected)
    by_key = {s.key: s for s in SPAWNED}

    def measure(key: str) -> str:
        return _startup_round(by_key[key], workdir, results[key])

    interleave(rounds, results, measure, "spawn", say)
    return results


def profile_slow_spawns(
    startup: dict[str, Startup], workdir: Path, say: Callable[[str], None]
) -> dict[str, Imports]:
    """The import profile of each spawn of ours whose median Ready missed READY_TARGET_S."""
    imports: dict[str, Imports] = {}
    for spawned in SPAWNED:
        ready = startup[spawned.key].ready_s
        if spawned.command is None or not ready or statistics.median(ready) <= READY_TARGET_S:
            continue
        try:
            imports[spawned.key] = import_profile(spawned, workdir)
        except Exception as exc:  # reported in its row; the bench goes on
            say(f"  importtime {spawned.key}: failed: {why(exc)}")
            continue
        say(f"  importtime {spawned.key}: {imports[spawned.key].total_s:.2f} s of imports")
    return imports


def memory_profile(spawned: Spawned, workdir: Path, top: int = IMPORT_TOP) -> Resident:
    """Spawn once more and, once idle, where its tree's resident memory is."""
    workdir = workdir / f"memory-{spawned.key}"
    workdir.mkdir()
    process = _spawn(spawned, workdir)
    try:
        proctree.wait_idle(process.pid, IDLE_TIMEOUT)
        members = proctree.tree(process.pid)
        owners = proctree.resident_by_owner(members)
        rss = proctree.rss_bytes(members)
    finally:
        processes.stop(process)
    return Resident(rss, sorted(owners.items(), key=lambda o: -o[1])[:top])


def profile_big_spawns(
    startup: dict[str, Startup], workdir: Path, say: Callable[[str], None]
) -> dict[str, Resident]:
    """Where the memory is, for the example project if its median idle RSS missed
    IDLE_TARGET_MB (the one spawn with a memory target)."""
    spawned = SPAWNED[0]
    rss = startup[spawned.key].rss
    if not rss or statistics.median(rss) / 2**20 <= IDLE_TARGET_MB:
        return {}
    try:
        resident = memory_profile(spawned, workdir)
    except Exception as exc:  # reported in its row; the bench goes on
        say(f"  memory {spawned.key}: failed: {why(exc)}")
        return {}
    say(f"  memory {spawned.key}: {resident.rss / 2**20:,.0f} MB RSS, by mapping")
    return {spawned.key: resident}
