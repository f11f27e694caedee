"""Issue 23's local loop: what a developer waits for, ours beside the peers in one run.

    python -m bench.issue23 [--quick] [--only MEASURE[:SETUP] ...]   # prints the section

`make bench` runs it whole and writes the section to docs/performance.md. Its measures,
each in a module of its own:

- **startup** (:mod:`bench.issue23_startup`): spawn → Ready, then the idle memory of
  the process tree, for the example project, the chat and the bench's stack; the
  imports of each spawn of ours that missed its target.
- **pytest** (:mod:`bench.issue23_pytest`): 20 generated tests, a fresh stack each;
  pytest's own setup + teardown durations, and the whole run's wall time.
- **echo**, **reply**, **broadcast-1** (:mod:`bench.issue23_echo`): one socket's round
  trip through the handler's ``echo`` (one post back), ``reply`` (its result sent back by
  a route response) and ``broadcast`` to a room it is alone in (a DynamoDB Query and one
  post), beside the bound (the same handler called in-process) for the two that post.

Every measure runs in interleaved rounds, every setup once per round in rotating order
(:mod:`bench.rounds`); :mod:`bench.issue23_report` gives the median and the range of
the rounds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import issue23_echo, issue23_pytest, issue23_startup
from bench.issue23_echo import RoundTrips
from bench.issue23_pytest import PytestCost
from bench.issue23_startup import Imports, Resident, Startup

MEASURES: dict[str, tuple[str, ...]] = {
    "startup": issue23_startup.SETUPS,
    "pytest": issue23_pytest.SETUPS,
    **{probe: setups for probe, (_, setups) in issue23_echo.PROBES.items()},
}


@dataclass
class Issue23:
    rounds: int
    echo_messages: int
    startup: dict[str, Startup]
    imports: dict[str, Imports]  # the spawns of ours that missed READY_TARGET_S
    resident: dict[str, Resident]  # the example, if its idle memory missed IDLE_TARGET_MB
    pytest: dict[str, PytestCost]  # "ours" (isolation = "test"), "ministack" (a deploy each)
    round_trips: RoundTrips  # echo, reply, broadcast-1
    wall_s: float


def run(
    rounds: int | None = None,
    tests: int = 20,
    echo_messages: int = 300,
    say: Callable[[str], None] = print,
    only: Mapping[str, Collection[str]] = MEASURES,
) -> Issue23:
    """Every measure of ``only`` (by default all), on the setups it names."""
    rounds = rounds or int(os.environ.get("BENCH_ISSUE23_ROUNDS", "3"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chat-bench-issue23-") as tmp:
        workdir = Path(tmp)
        say(f"Issue 23: spawn → Ready and idle memory, {rounds} interleaved rounds...")
        startup = issue23_startup.measure_startup(rounds, workdir, say, only.get("startup", ()))
        imports = issue23_startup.profile_slow_spawns(startup, workdir, say)
        resident = issue23_startup.profile_big_spawns(startup, workdir, say)
        say(f"Issue 23: pytest, {tests} tests, a fresh stack each...")
        pytest_costs = issue23_pytest.measure_pytest(
            max(1, rounds - 1), tests, workdir, say, only.get("pytest", ())
        )
        say(f"Issue 23: round trips (echo, reply, broadcast-1), {echo_messages} a round...")
        probes = {probe: only.get(probe, ()) for probe in issue23_echo.PROBES}
        trips = issue23_echo.measure_round_trips(rounds, echo_messages, workdir, say, probes)
    wall = time.monotonic() - started
    return Issue23(rounds, echo_messages, startup, imports, resident, pytest_costs, trips, wall)


def selection(items: list[str]) -> dict[str, tuple[str, ...]]:
    """``--only``'s items (``MEASURE`` or ``MEASURE:SETUP``) as the setups of each measure."""
    chosen: dict[str, tuple[str, ...]] = {}
    for item in items:
        measure, _, setup = item.partition(":")
        if measure not in MEASURES or (setup and setup not in MEASURES[measure]):
            raise ValueError(f"{item!r} is not a measure (or measure:setup) of --only")
        setups = (setup,) if setup else MEASURES[measure]
        chosen[measure] = (*chosen.get(measure, ()), *setups)
    return chosen


def main() -> None:
    choices = "; ".join(f"{m}: {', '.join(setups)}" for m, setups in MEASURES.items())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 5 tests, 50 of each round trip"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="MEASURE[:SETUP]",
        help=f"run only these measures, or these setups of them ({choices}); "
        "the others' cells say they were not run",
    )
    args = parser.parse_args()
    try:
        only = selection(args.only) if args.only else MEASURES
    except ValueError as exc:
        parser.error(str(exc))
    from bench import issue23_report  # here: it imports Issue23 from this module

    quick = args.quick
    result = run(rounds=1, tests=5, echo_messages=50, only=only) if quick else run(only=only)
    print()
    print(issue23_report.section(result))


if __name__ == "__main__":
    main()
