"""``make profile``: where our emulator's time goes at N=100, sampled with py-spy.

Serves the bench's template, opens a room of 100 with the load generator, and while
it broadcasts (one message in flight) records the gateway process and one of the
broadcast function's workers with ``py-spy record --gil`` (samples only while a
thread holds the GIL, i.e. Python CPU). Writes folded stacks (flamegraph input) to
``.build/profile/`` and prints where the samples fall, by function and by module.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import processes, proctree, setups

OUT = processes.ROOT / ".build" / "profile"
SECONDS = 20
RATE = 200  # samples per second


def busiest_worker(root: int, window: float = 1.0) -> int:
    """The busiest process under the gateway now: with one message in flight after
    another, a worker of the broadcast function (the workers' template process idles).

    Workers are forked from that template, so their /proc environ is the template's:
    what the runner sets for a function doesn't show there."""
    workers = [pid for pid in proctree.tree(root) if pid != root]
    if not workers:
        raise RuntimeError("no worker is running yet")
    before = {pid: proctree.cpu_seconds([pid]) for pid in workers}
    time.sleep(window)  # a measuring interval, not a wait for readiness
    return max(workers, key=lambda pid: proctree.cpu_seconds([pid]) - before[pid])


def record(pid: int, name: str) -> subprocess.Popen[str]:
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--duration", str(SECONDS)]
    command += ["--rate", str(RATE), "--gil", "--threads", "--format", "raw", "--nonblocking"]
    command += ["--output", str(OUT / f"{name}.folded")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def summary(path: Path, top: int = 25) -> str:
    """Self samples by function and inclusive samples by module, from folded stacks."""
    own: collections.Counter[str] = collections.Counter()
    modules: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for module in {_module(f) for f in frames}:
            modules[module] += samples
    lines = [f"{path.stem}: {total} samples at {RATE}/s while holding the GIL"]
    lines.append("  self time, by function:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  inclusive, by package:")
    lines += [f"    {100 * n / total:5.1f}%  {module}" for module, n in modules.most_common(top)]
    return "\n".join(lines)


def _module(frame: str) -> str:
    """``fn (moto/core/utils.py:12)`` -> ``moto``; ``fn (threading.py:3)`` -> ``threading.py``."""
    location = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0]
    if not location:
        return frame  # py-spy's thread and process frames
    return location.split("/")[0]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ours = next(s for s in setups.SETUPS if s.key == "ours")
    with tempfile.TemporaryDirectory(prefix="chat-profile-") as tmp:
        running = setups.start(ours, Path(tmp), [100], 8, lambda key, pid: None)
        try:
            gateway = running.measured.pid
            command = {"room": 100, "inflight": 1, "duration": SECONDS + 4, "min_messages": 3}
            results: list[dict[str, Any]] = []
            load = threading.Thread(
                target=lambda: results.append(
                    running.command(command | {"timeout": 30}, timeout=SECONDS + 120)
                )
            )
            load.start()
            members = proctree.tree(gateway)
            cpu_before = {pid: proctree.cpu_seconds([pid]) for pid in members}
            worker = busiest_worker(gateway)
            recorders = [record(gateway, "gateway"), record(worker, "worker")]
            load.join()
            result = results[0]
            cpu = {pid: proctree.cpu_seconds([pid]) - cpu_before[pid] for pid in members}
            names = {pid: f"process {pid} under the gateway" for pid in members}
            names[gateway] = "gateway, @connections and moto"
            names[worker] = f"worker {worker} (the one profiled)"
            for recorder in recorders:
                _, errors = recorder.communicate(timeout=60)
                if recorder.returncode:
                    print(f"py-spy failed: {errors.strip()}")
        finally:
            running.stop()
    rate = result["deliveries"] / result["elapsed"]
    print(f"N=100, one message in flight: {rate:,.0f} deliveries/s while profiling")
    print("CPU ms per delivery, by process (the whole run, py-spy's own cost included):")
    for pid, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        if seconds > 0.05:
            print(f"  {1000 * seconds / result['deliveries']:6.3f}  pid {pid} {names[pid]}")
    print()
    for name in ("gateway", "worker"):
        path = OUT / f"{name}.folded"
        if path.exists():
            print(summary(path))
            print()


if __name__ == "__main__":
    main()
