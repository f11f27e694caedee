"""The reliability tier: the chat under random use, fuzzing, faults and load.

Every test here runs against one stack of its own (``RELIABLE``) whose limits are set
high (the tier measures correctness under stress, not the limits, which
``tests/e2e/test_limits.py`` covers), and records its figures; at the end of the session
they are written to ``test-artifacts/reliability.json`` and printed, for
docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.harness import Harness
from scripts.stack import chat_stack
from tests.client import ChatClient

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GENEROUS = {
    "rate_per_connection": 1_000_000,
    "rate_per_user": 1_000_000,
    "max_connections_per_user": 1_000,
    "max_pending_per_room": 10_000,
    "max_pending_per_user": 10_000,
    "presence_probe_seconds": 0,
}
FIGURES: dict[str, Any] = {}


# Every module here is marked RELIABLE: one stack for the tier, with generous limits.
RELIABLE = pytest.mark.websocket_api(template=chat_stack(stage="test", limits=GENEROUS))


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Thousands of connections and invocations: keep their INFO lines out of the
    captured logs, which pytest holds in memory for the whole test."""
    loggers = [logging.getLogger(name) for name in ("websockets", "emulator.lambda")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def harness(stack: Harness) -> Harness:
    """The running stack (the ``websocket_api`` fixture's harness)."""
    return stack


@pytest.fixture
def connect(make_client: Callable[..., ChatClient]) -> Callable[..., ChatClient]:
    """Connect users to the stack; every client is closed at the end of the test."""
    return make_client


def record(name: str, value: Any) -> None:
    """Add to a figure (numbers add up across tests; anything else is replaced)."""
    if isinstance(value, int | float) and isinstance(FIGURES.get(name), int | float):
        FIGURES[name] += value
    else:
        FIGURES[name] = value


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not FIGURES:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reliability.json").write_text(json.dumps(FIGURES, indent=2, sort_keys=True))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value}")


def worker_pids(harness: Harness, function: str) -> list[int]:
    """The Lambda runner's worker processes of a function (by its name in the stack,
    ``send-message``): the processes whose working directory is that function's code."""
    assert harness.runner is not None
    spec = next(s for name, s in harness.runner.functions.items() if name.endswith(function))
    code_dir = spec.code_dir.resolve()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == code_dir:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def signal_workers(harness: Harness, function: str, sig: signal.Signals) -> int:
    """Send ``sig`` to every worker of a function; how many got it."""
    sent = 0
    for pid in worker_pids(harness, function):
        try:
            os.kill(pid, sig)
            sent += 1
        except ProcessLookupError:
            continue
    return sent
