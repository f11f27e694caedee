"""CPU time and memory of a process tree, read from /proc (Linux).

A server under test is a tree: a gateway and its Lambda workers, a Node process and
its Python runners. CPU counts every live member's user+system time plus what its
reaped children left in ``cutime``/``cstime``, so a worker that exited mid-run is not
lost. Memory is the sum of the members' resident sets (shared pages count once per
process, as ``ps`` would add them up), or of their proportional set sizes (shared pages
split between the processes that share them).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    return parents


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    return children


def tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children = _children() if children is None else children
    members, todo = [], [root]
    while todo:
        pid = todo.pop()
        members.append(pid)
        todo.extend(children.get(pid, ()))
    return members


def cpu_seconds(pids: Iterable[int], children: bool = True) -> float:
    """User + system time of these processes, and of their reaped children unless
    ``children`` is False."""
    ticks = 0
    end = 15 if children else 13
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # state is fields[0]; utime..cstime are fields 11..14
            ticks += sum(int(v) for v in fields[11:end])
    return ticks / _TICK


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError):
            continue
    return total


def resident_by_owner(pids: Iterable[int]) -> dict[str, int]:
    """Resident bytes (``Rss`` of /proc/<pid>/smaps) added up by what each mapping is: a
    package's folder or file under ``site-packages``, a library's file name, or the
    kernel's name for anonymous memory (``[heap]``; ``[anonymous]`` when it has none):
    for CPython the heap and anonymous mappings hold the Python objects."""
    owners: dict[str, int] = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps").read_text()
        except OSError:
            continue
        owner = "[anonymous]"
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 5 and "-" in fields[0] and ":" in fields[3]:  # a mapping's line
                owner = _owner(fields[5] if len(fields) > 5 else "")
            elif fields and fields[0] == "Rss:":
                owners[owner] = owners.get(owner, 0) + int(fields[1]) * 1024
    return owners


def _owner(path: str) -> str:
    if not path:
        return "[anonymous]"
    if path.startswith("["):
        return path
    _, packages, inside = path.partition("site-packages/")
    if packages:
        return inside.split("/")[0].split(".")[0]
    return path.rsplit("/", 1)[-1]


def pss_bytes(pids: Iterable[int]) -> int:
    """Proportional set sizes added up, from /proc/<pid>/smaps_rollup."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def tree_cpu(root: int) -> float:
    return cpu_seconds(tree(root))


class PeakMemory:
    """Samples the resident memory of several trees in the background; keeps each peak."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.processes: dict[str, int] = {}  # most processes seen at once in each tree
        self._roots: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, name: str, root: int) -> None:
        with self._lock:
            self._roots[name] = root
        self.sample()

    def forget(self, name: str) -> None:
        self.sample()
        with self._lock:
            self._roots.pop(name, None)

    def restart(self) -> tuple[dict[str, int], dict[str, int]]:
        """Start new peaks; returns the peaks and process counts seen so far."""
        self.sample()
        with self._lock:
            seen = (self.peaks, self.processes)
            self.peaks, self.processes = {}, {}
        return seen

    def sample(self) -> None:
        with self._lock:
            roots = dict(self._roots)
        children = _children()
        for name, root in roots.items():
            members = tree(root, children)
            rss = rss_bytes(members)
            with self._lock:
                self.peaks[name] = max(self.peaks.get(name, 0), rss)
                self.processes[name] = max(self.processes.get(name, 0), len(members))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_idle(root: int, timeout: float) -> None:
    """Wait until the tree spends under 5% of a core (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    before = tree_cpu(root)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = tree_cpu(root)
        if after - before < 0.025:
            return
        before = after
