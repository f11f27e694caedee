"""``make bench``: our emulator beside its peers on the same handler, and the chat's cost.

Starts every setup (our emulator, serverless-offline, MiniStack, the floor and the
bound; a peer that can't be installed or started is reported as skipped), runs the
side-by-side comparison of :mod:`bench.compare`, meters the chat's actions with
:mod:`bench.cost`, measures issue 23's local loop with :mod:`bench.issue23` (spawn →
Ready, idle memory, pytest per test, echo), and writes docs/performance.md with its
plot. Bounded: every run has a duration and every wait a deadline; about fifteen
minutes on two cores.
"""

from __future__ import annotations

import logging
import time
import traceback

from bench import chat, compare, cost, issue23, issue23_report, report


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    host = report.machine()
    print(f"{host['cores']} cores, {host['cpu']}, Python {host['python']}; load {host['load']}")
    comparison = compare.run()
    chat_report = chat.run(with_big_room=True)
    print("Metering the chat's actions for the cost per message...")
    costs = cost.run()
    try:  # the measures above are not lost to a failure of this last one
        local_loop = issue23_report.section(issue23.run())
    except Exception as exc:
        traceback.print_exc()
        local_loop = f"## Issue 23: the local loop\n\nNot measured: {type(exc).__name__}: {exc}\n"
    path = report.write(comparison, costs, host, chat_report, local_loop)
    print(f"\nWrote {path} in {time.monotonic() - started:.0f} s.\n")
    print(report.ratios_section(comparison))
    print()
    print(report.targets_section(comparison, chat_report))


if __name__ == "__main__":
    main()
