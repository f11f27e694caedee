"""Side by side: every setup, every room size and mode, in interleaved rounds.

Each round runs every cell (room size and messages in flight) on every setup before
the next cell, in an order that rotates, so all setups see the same machine load;
three rounds give a median and show the spread. The server tree's CPU is read from
/proc around each run; its memory is sampled all along.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import proctree, setups
from bench.peers import Unavailable

ROOMS = [10, 100, 1000]
PIPELINE = 8
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.5"))  # per run; at least a few messages
MESSAGE_TIMEOUT = 30.0  # a broadcast not delivered by then is lost (API Gateway gives 29 s)


@dataclass(frozen=True, order=True)
class Cell:
    room: int
    inflight: int

    @property
    def label(self) -> str:
        mode = "sequential" if self.inflight == 1 else f"{self.inflight} in flight"
        return f"N={self.room:,} {mode}"


CELLS = [Cell(room, inflight) for room in ROOMS for inflight in (1, PIPELINE)]
# 8 broadcasts to 1,000 at once take the slower peers 30 s to drain: that cell runs in
# the last round only, which keeps `make bench` within its ten minutes.
SINGLE_ROUND_DELIVERIES = 8000


def runs_in(cell: Cell, round_no: int) -> bool:
    if cell.room * cell.inflight >= SINGLE_ROUND_DELIVERIES:
        return round_no == ROUNDS - 1
    return True


@dataclass
class Run:
    deliveries: int
    elapsed: float
    messages: int
    lost: int
    latencies: list[float]
    cpu_s: float

    @property
    def rate(self) -> float:
        # A run whose messages were all lost has no elapsed time worth dividing by.
        return self.deliveries / self.elapsed if self.messages and self.elapsed > 0 else 0.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Summary:
    runs: list[Run] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [run.rate for run in self.runs]

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def latencies(self) -> list[float]:
        return [x for run in self.runs for x in run.latencies]

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000

    @property
    def cpu_per_1000(self) -> float:
        """Server CPU seconds per 1,000 deliveries (median over rounds)."""
        return statistics.median(1000 * r.cpu_s / r.deliveries for r in self.runs if r.deliveries)

    @property
    def messages(self) -> int:
        return sum(run.messages for run in self.runs)

    @property
    def lost(self) -> int:
        return sum(run.lost for run in self.runs)


@dataclass
class Comparison:
    summaries: dict[str, dict[Cell, Summary]]
    skipped: dict[str, str]
    failed: dict[str, str]
    peak_rss: dict[str, int]  # while opening sockets and measuring
    closing_rss: dict[str, int]  # while all sockets close at once, at the end
    processes: dict[str, int]
    versions: dict[str, str]
    startup_s: dict[str, float]
    connect_s: dict[str, float]
    connections: dict[str, int]
    rounds: int
    seconds: float
    wall_s: float


def _command(cell: Cell) -> dict[str, Any]:
    return {
        "room": cell.room,
        "inflight": cell.inflight,
        "duration": SECONDS,
        "min_messages": 3 if cell.inflight == 1 else cell.inflight,
        "timeout": MESSAGE_TIMEOUT,
    }


def measure(running: setups.Running, cell: Cell) -> Run:
    root = running.measured.pid
    before = proctree.tree_cpu(root)
    # Long enough for the slowest setup to drain a pipeline of its largest broadcasts.
    reply = running.command(_command(cell), timeout=SECONDS + 4 * MESSAGE_TIMEOUT)
    cpu = proctree.tree_cpu(root) - before
    return Run(
        deliveries=int(reply["deliveries"]),
        elapsed=float(reply["elapsed"]),
        messages=int(reply["messages"]),
        lost=int(reply["lost"]),
        latencies=[float(x) for x in reply["latencies"]],
        cpu_s=cpu,
    )


def settle(running: setups.Running, timeout: float = 60) -> None:
    """Wait until a setup's tree is idle (below 5% of a core), e.g. after lost messages."""
    proctree.wait_idle(running.measured.pid, timeout)


def stop_all(running: list[setups.Running]) -> None:
    threads = [threading.Thread(target=r.stop) for r in running]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run(say: Callable[[str], None] = print) -> Comparison:
    started = time.monotonic()
    summaries: dict[str, dict[Cell, Summary]] = {}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp, proctree.PeakMemory() as memory:
        say("Starting every setup and opening its sockets (in parallel)...")
        running, skipped = setups.start_all(Path(tmp), ROOMS, PIPELINE, memory.watch)
        for key, reason in skipped.items():
            say(f"  {key}: skipped: {reason}")
        order = [s.key for s in setups.SETUPS if s.key in running]
        for key in order:
            r = running[key]
            say(
                f"  {key}: ready in {r.startup_s:.1f} s, {r.connections:,} sockets "
                f"opened in {r.connect_s:.1f} s"
            )
            summaries[key] = {cell: Summary() for cell in CELLS}
        try:
            for round_no in range(ROUNDS):
                say(f"Round {round_no + 1} of {ROUNDS}")
                for index, cell in enumerate(CELLS):
                    if not runs_in(cell, round_no):
                        continue
                    shift = round_no + index
                    live = [k for k in order if k not in failed]
                    for key in live[shift % len(live) :] + live[: shift % len(live)]:
                        try:
                            result = measure(running[key], cell)
                        except (Unavailable, OSError, ValueError, KeyError) as exc:
                            failed[key] = f"{cell.label}, round {round_no + 1}: {exc}"
                            say(f"  {key}: failed: {failed[key]}")
                            continue
                        summaries[key][cell].runs.append(result)
                        if result.lost:  # late deliveries must not load the next run
                            settle(running[key])
                        say(
                            f"  {cell.label:<22} {key:<20} {result.rate:>9,.0f} deliveries/s"
                            f"  {result.messages:>4} messages"
                            + (f"  {result.lost} lost" if result.lost else "")
                        )
        finally:
            peak_rss, process_count = memory.restart()
            say("Stopping (the sockets close: each setup runs its $disconnect)...")
            stop_all(list(running.values()))
            closing_rss, _ = memory.restart()
    return Comparison(
        summaries={k: {c: s for c, s in v.items() if s.runs} for k, v in summaries.items()},
        skipped=skipped,
        failed=failed,
        peak_rss=peak_rss,
        closing_rss=closing_rss,
        processes=process_count,
        versions={k: r.version for k, r in running.items()},
        startup_s={k: r.startup_s for k, r in running.items()},
        connect_s={k: r.connect_s for k, r in running.items()},
        connections={k: r.connections for k, r in running.items()},
        rounds=ROUNDS,
        seconds=SECONDS,
        wall_s=time.monotonic() - started,
    )
