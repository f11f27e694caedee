"""Interleaved rounds: every round measures each live setup once, in an order that
rotates from round to round, so that all setups see the same machine load.

A setup whose measure raises is marked failed, with the exception in one line, and left
out of the rounds after; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

NOT_SELECTED = "not run (--only)"


class Result(Protocol):
    """A setup's figures; ``failed`` says why there are none (more), or is empty."""

    failed: str


def rotated(keys: list[str], shift: int) -> list[str]:
    return keys[shift % len(keys) :] + keys[: shift % len(keys)] if keys else []


def why(exc: BaseException) -> str:
    """An exception as one line of a report: its class and its message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def deselect(results: Mapping[str, Result], selected: Callable[[str], bool]) -> None:
    """Mark the setups not ``selected`` as not run."""
    for key, result in results.items():
        if not selected(key):
            result.failed = NOT_SELECTED


def interleave(
    rounds: int,
    results: Mapping[str, Result],
    measure: Callable[[str], str],
    what: str,
    say: Callable[[str], None],
) -> None:
    """``measure(key)`` for each setup of ``results`` not failed, ``rounds`` times: it adds
    its figures to ``results[key]`` and returns what to say of them."""
    for round_no in range(rounds):
        live = [key for key, result in results.items() if not result.failed]
        for key in rotated(live, round_no):
            try:
                done = measure(key)
            except Exception as exc:  # reported in its row; the bench goes on
                results[key].failed = why(exc)
                say(f"  {what} {key}: failed: {results[key].failed}")
                continue
            say(f"  {what} {key:<20} {done}")
