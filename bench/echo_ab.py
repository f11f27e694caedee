"""Issue 23's echo, A against B: the same stack served from two source trees at once.

    python -m bench.echo_ab --a /work/wt/base --b /work/wt/echo3 [--rounds 20] [--batch 200]

Each tree's ``python -m emulator serve`` (on this interpreter, with that tree first on
``PYTHONPATH``) serves that tree's bench/broadcast/template.yaml. One client holds a
socket to each and, round after round, sends a batch of echoes to one then the other,
A first in even rounds and B first in odd ones, so both see the same machine load.

It prints each side's p50 and p99 over all rounds, and the ratio B/A of the p50s; the
spread is that of the rounds' own ratios (each round's B p50 over its A p50): their
median and quartiles. Two identical trees show this tool's noise. It also prints the CPU
the ``serve`` process itself (the gateway, not its workers) used per echo, from
``/proc/<pid>/stat``: less disturbed by the machine's load than the round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect

from bench import processes, proctree, setups
from bench.issue23_echo import echoes
from bench.workload import STAGE

WARM = 50
STARTUP_TIMEOUT = 120


@dataclass
class Side:
    """One tree's server and what its echoes measured."""

    name: str
    tree: Path
    latencies: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    pid: int = 0
    cpu_s: float = 0.0  # the serve process's user + system time over the batches


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (not its children's)."""
    return proctree.cpu_seconds([pid], children=False)


def start(side: Side, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    """``serve`` from ``side.tree``; returns the process and its WebSocket URL."""
    template = side.tree / "bench" / "broadcast" / "template.yaml"
    command = processes.python(
        "emulator", "serve", str(template), "--port", "0", "--stage", STAGE, "--quiet"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(side.tree), str(side.tree / "handlers")])
    process, where = processes.start_server(
        command, workdir / f"{side.name}.log", STARTUP_TIMEOUT, setups.OURS_URL, env, side.tree
    )
    return process, where["url"]


async def alternate(sides: list[Side], urls: list[str], rounds: int, batch: int) -> None:
    """``rounds`` rounds of ``batch`` echoes on each side, in alternating order."""
    sockets = [await connect(url, open_timeout=60, ping_interval=None) for url in urls]
    try:
        for socket in sockets:
            await echoes(socket, 0, WARM)
        for round_no in range(rounds):
            order = [0, 1] if round_no % 2 == 0 else [1, 0]
            for index in order:
                before = cpu_seconds(sides[index].pid)
                latencies = await echoes(sockets[index], batch)
                sides[index].cpu_s += cpu_seconds(sides[index].pid) - before
                sides[index].latencies += latencies
                sides[index].round_p50.append(statistics.median(latencies))
    finally:
        for socket in sockets:
            await socket.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(a: Side, b: Side, load: tuple[float, float]) -> str:
    """Each side's p50/p99, the ratio B/A of the p50s, and the rounds' ratios' spread."""
    ratios = [rb / ra for ra, rb in zip(a.round_p50, b.round_p50, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    lines = [f"load (1 min) {load[0]:.1f} before, {load[1]:.1f} after"]
    for side in (a, b):
        p50, p99 = percentile(side.latencies, 0.5), percentile(side.latencies, 0.99)
        lines.append(
            f"{side.name} {side.tree}: p50 {1000 * p50:.3f} ms  p99 {1000 * p99:.3f} ms"
            f"  gateway CPU {1000 * side.cpu_s / len(side.latencies):.3f} ms/echo"
            f"  ({len(side.latencies)} echoes)"
        )
    overall = percentile(b.latencies, 0.5) / percentile(a.latencies, 0.5)
    lines.append(
        f"B/A p50 {overall:.3f}; rounds' ratios: median {statistics.median(ratios):.3f},"
        f" quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f},"
        f" range {min(ratios):.3f}-{max(ratios):.3f} ({len(ratios)} rounds)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="the baseline's source tree")
    parser.add_argument("--b", type=Path, required=True, help="the changed source tree")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=200, help="echoes per side per round")
    args = parser.parse_args()
    sides = [Side("A", args.a.resolve()), Side("B", args.b.resolve())]
    servers: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="echo-ab-") as workdir:
        try:
            urls = []
            for side in sides:
                process, url = start(side, Path(workdir))
                servers.append(process)
                side.pid = process.pid
                urls.append(url)
            before = os.getloadavg()[0]
            asyncio.run(alternate(sides, urls, args.rounds, args.batch))
            print(report(sides[0], sides[1], (before, os.getloadavg()[0])))
        finally:
            for process in servers:
                processes.stop(process)


if __name__ == "__main__":
    main()
