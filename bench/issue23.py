"""Issue 23's local loop: what a developer waits for, ours beside the peers in one run.

    python -m bench.issue23 [--quick]   # prints the section; `make bench` writes it

- **spawn → Ready**: a server started from nothing until it serves (ours: its banner's
  WebSocket API line; serverless-offline: its WebSocket port; MiniStack: ready, and the
  bench's stack deployed with boto3), for the example project, the chat and the bench's
  stack; then, once the tree is idle, its **idle memory** (RSS and PSS of every process).
- **pytest per test**: 20 generated tests against the example project with
  ``isolation = "test"``, pytest's own setup + teardown durations of each test, and the
  whole run's wall time.
- **echo**: one socket sends ``{"action": "echo"}`` and waits for the frame the handler
  posts back (bench/broadcast/handler.py's ``echo``); the bound is the same handler
  called in-process, its one ``post_to_connection`` to the 200-only HTTPS server of
  :mod:`bench.bound`.

Every measure runs in interleaved rounds, every setup once per round in rotating order;
the report gives the median and the range of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from bench import ministack, peers, processes, proctree, setups
from bench.peers import Unavailable
from bench.workload import HANDLER

EXAMPLE = processes.ROOT / "tests" / "fixtures" / "example-project"
STARTUP_TIMEOUT = 120
IDLE_TIMEOUT = 20.0  # for the tree to go quiet after Ready (workers warmed in the background)
ECHO_WARM = 20
ECHO_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3
PYTEST_TIMEOUT = 600
READY_TARGET_S = 1.0  # issue 23's: a spawn slower than this is profiled (its imports)
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
ECHOED = ("ours", "serverless-offline", "ministack")
_SETUPS = {s.key: s for s in setups.SETUPS}


@dataclass
class Startup:
    ready_s: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    failed: str = ""


@dataclass
class PytestCost:
    tests: int
    per_test_ms: list[float] = field(default_factory=list)  # median of each run, bar its first
    first_setup_s: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)  # median of each run
    wall_s: list[float] = field(default_factory=list)
    failed: str = ""


@dataclass
class Echo:
    latencies: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    failed: str = ""


@dataclass
class Issue23:
    rounds: int
    echo_messages: int
    startup: dict[str, Startup]
    imports: dict[str, Imports]  # the spawns of ours that missed READY_TARGET_S
    pytest: dict[str, PytestCost]  # "ours" (isolation = "test"), "ministack" (a deploy each)
    echo: dict[str, Echo]
    wall_s: float


# --- spawn → Ready, idle memory -------------------------------------------------------


def _spawn(spawned: Spawned, workdir: Path) -> subprocess.Popen[str]:
    if spawned.command is not None:
        log = workdir / f"{spawned.key}.log"
        process, _ = processes.start_server(spawned.command, log, STARTUP_TIMEOUT, setups.OURS_URL)
        return process
    process, _, _ = setups.start_server(_SETUPS[spawned.key], workdir)
    return process


def _startup_round(spawned: Spawned, workdir: Path, result: Startup) -> None:
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


@dataclass
class Imports:
    """``python -X importtime`` of one spawn, up to Ready: its imports by package."""

    ready_s: float
    total_s: float  # every module's own import time
    top: list[tuple[str, float]]  # (top-level package, its modules' own seconds), slowest first


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


def _rotated(keys: list[str], shift: int) -> list[str]:
    return keys[shift % len(keys) :] + keys[: shift % len(keys)] if keys else []


def measure_startup(rounds: int, workdir: Path, say: Callable[[str], None]) -> dict[str, Startup]:
    results = {s.key: Startup() for s in SPAWNED}
    by_key = {s.key: s for s in SPAWNED}
    for round_no in range(rounds):
        live = [k for k in by_key if not results[k].failed]
        for key in _rotated(live, round_no):
            try:
                _startup_round(by_key[key], workdir, results[key])
            except Exception as exc:  # reported in its row; the bench goes on
                results[key].failed = f"{type(exc).__name__}: {exc}"
                say(f"  spawn {key}: failed: {results[key].failed}")
                continue
            done = results[key]
            say(
                f"  spawn {key:<20} ready in {done.ready_s[-1]:.2f} s, idle "
                f"{done.rss[-1] / 2**20:,.0f} MB RSS, {done.pss[-1] / 2**20:,.0f} MB PSS"
            )
    return results


# --- pytest, a fresh stack per test ---------------------------------------------------

_CONFTEST = '''"""Written by bench.issue23: keeps pytest's own durations of each test."""

import json
import os

_durations = {}


def pytest_runtest_logreport(report):
    _durations.setdefault(report.nodeid, {})[report.when] = report.duration


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_DURATIONS"], "w") as out:
        json.dump(list(_durations.values()), out)
'''

_TEST = '''

def test_count_{n}(websocket_api):
    """Nothing of the test before: this test's word counts from 1."""
    with connect(websocket_api.url) as ws:
        ws.send(json.dumps({{"action": "count", "word": "apple"}}))
        assert json.loads(ws.recv(timeout=30))["count"] == 1
'''


def _pytest_project(directory: Path, tests: int, ours: bool) -> Path:
    """The example project with ``tests`` generated tests, each on a fresh stack: ours
    with its pyproject.toml (``isolation = "test"``), MiniStack's without."""
    project = directory / ("pytest-ours" if ours else "pytest-ministack")
    ignore = ["tests", "__pycache__", *([] if ours else ["pyproject.toml"])]
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(*ignore))
    (project / "tests").mkdir()
    (project / "tests" / "conftest.py").write_text(_CONFTEST)
    head = '"""Generated by bench.issue23."""\n\nimport json\n\n'
    head += "from websockets.sync.client import connect\n"
    body = "".join(_TEST.format(n=n) for n in range(tests))
    (project / "tests" / "test_fresh_stack.py").write_text(head + body)
    return project


def _pytest_round(project: Path, result: PytestCost, ministack_endpoint: str = "") -> None:
    """One pytest run; on MiniStack (at ``ministack_endpoint``) with its plugin instead."""
    durations = project / "durations.json"
    env = processes.python_env({"BENCH_DURATIONS": str(durations)})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if ministack_endpoint:
        env["BENCH_MINISTACK_ENDPOINT"] = ministack_endpoint
        command += ["-p", "no:websocket_api", "-p", "bench.ministack_pytest"]
    command.append("tests")
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=PYTEST_TIMEOUT
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        lines = done.stdout.strip().splitlines()
        why = [line for line in lines if line.startswith("E ")][:2] + lines[-1:]
        raise ValueError(f"pytest exited with {done.returncode}: {' / '.join(why)}")
    tests = json.loads(durations.read_text())
    if len(tests) != result.tests:
        raise ValueError(f"{len(tests)} tests reported, {result.tests} generated")
    fixture = [t["setup"] + t["teardown"] for t in tests[1:]]  # the first one deploys
    result.per_test_ms.append(1000 * statistics.median(fixture))
    result.first_setup_s.append(tests[0]["setup"])
    result.call_ms.append(1000 * statistics.median(t["call"] for t in tests))
    result.wall_s.append(wall)


def measure_pytest(
    rounds: int, tests: int, workdir: Path, say: Callable[[str], None]
) -> dict[str, PytestCost]:
    results = {key: PytestCost(tests) for key in ("ours", "ministack")}
    projects = {key: _pytest_project(workdir, tests, key == "ours") for key in results}
    endpoints = {"ours": ""}
    server: subprocess.Popen[str] | None = None
    try:
        server, endpoints["ministack"] = ministack.start(
            peers.ministack(), workdir / "ministack-pytest.log", stack=False
        )
    except Unavailable as exc:
        results["ministack"].failed = f"skipped: {exc}"
        say(f"  pytest ministack: {results['ministack'].failed}")
    try:
        for round_no in range(rounds):
            live = [k for k in results if not results[k].failed]
            for key in _rotated(live, round_no):
                try:
                    _pytest_round(projects[key], results[key], endpoints[key])
                except Exception as exc:  # reported in its row; the bench goes on
                    results[key].failed = f"{type(exc).__name__}: {exc}"
                    say(f"  pytest {key}: failed: {results[key].failed}")
                    continue
                done = results[key]
                say(
                    f"  pytest {key:<12} {done.per_test_ms[-1]:.0f} ms setup + teardown per "
                    f"test, whole run {done.wall_s[-1]:.1f} s"
                )
    finally:
        if server is not None:
            processes.stop(server)
    return results


# --- echo --------------------------------------------------------------------------


async def _open(url: str) -> ClientConnection:
    """Connect; a refused ``$connect`` (a peer's cold start timing out under load: seen
    on MiniStack at load 6) is tried again, up to CONNECT_ATTEMPTS times in all."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return await connect(url, open_timeout=60, ping_interval=None)
        except InvalidStatus:
            if attempt == CONNECT_ATTEMPTS:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def _echo(url: str, count: int) -> list[float]:
    latencies: list[float] = []
    async with await _open(url) as socket:
        for n in range(ECHO_WARM + count):
            sent_at = time.perf_counter()
            await socket.send(json.dumps({"action": "echo", "data": f"{n} echo"}))
            reply = await asyncio.wait_for(socket.recv(), ECHO_TIMEOUT)
            if reply != f"{n} echo":
                raise ValueError(f"echo {n}: got {reply!r}")
            if n >= ECHO_WARM:
                latencies.append(time.perf_counter() - sent_at)
    return latencies


def bound_client(url: str, ca: str, count: int) -> list[float]:
    """The handler's ``echo`` called in this process: one boto3 post to the bound server."""
    os.environ.update(
        {
            "CONNECTIONS_ENDPOINT": url,
            "AWS_CA_BUNDLE": ca,
            "CONNECTIONS_TABLE": "unused",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
    )
    spec = importlib.util.spec_from_file_location("bench_echo_handler", HANDLER)
    if spec is None or spec.loader is None:
        raise ValueError(f"can't load {HANDLER}")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    latencies: list[float] = []
    for n in range(ECHO_WARM + count):
        event = {
            "requestContext": {"connectionId": f"c{n}", "domainName": "x", "stage": "bench"},
            "body": json.dumps({"action": "echo", "data": f"{n} echo"}),
        }
        started = time.perf_counter()
        handler.echo(event, None)
        if n >= ECHO_WARM:
            latencies.append(time.perf_counter() - started)
    return latencies


def _bound_round(where: dict[str, Any], count: int) -> list[float]:
    command = processes.python("bench.issue23", "bound", where["url"], where["ca"], str(count))
    done = subprocess.run(
        command, env=processes.python_env(), capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ValueError(f"bound client: {done.stderr.strip().splitlines()[-1:]}")
    return [float(x) for x in json.loads(done.stdout)]


def measure_echo(
    rounds: int, count: int, workdir: Path, say: Callable[[str], None]
) -> dict[str, Echo]:
    results = {key: Echo() for key in (*ECHOED, "bound")}
    workdir = workdir / "echo"
    workdir.mkdir()
    servers: dict[str, tuple[subprocess.Popen[str], str]] = {}
    bound_server: subprocess.Popen[str] | None = None
    try:
        for key in ECHOED:
            try:
                process, url, _ = setups.start_server(_SETUPS[key], workdir)
            except Exception as exc:  # reported in its row; the bench goes on
                results[key].failed = f"{type(exc).__name__}: {exc}"
                say(f"  echo {key}: skipped: {results[key].failed}")
                continue
            servers[key] = process, url
        bound_where: dict[str, Any] = {}
        try:
            bound_server, bound_where = processes.start_server(
                processes.python("bench.bound", "server", str(workdir / "tls")),
                workdir / "bound-echo.log",
                STARTUP_TIMEOUT,
            )
        except Unavailable as exc:
            results["bound"].failed = f"skipped: {exc}"
            say(f"  echo bound: {results['bound'].failed}")
        for round_no in range(rounds):
            live = [k for k in results if not results[k].failed and (k in servers or k == "bound")]
            for key in _rotated(live, round_no):
                try:
                    if key == "bound":
                        latencies = _bound_round(bound_where, count)
                    else:
                        latencies = asyncio.run(_echo(servers[key][1], count))
                except Exception as exc:  # reported in its row; the bench goes on
                    results[key].failed = f"{type(exc).__name__}: {exc}"
                    say(f"  echo {key}: failed: {results[key].failed}")
                    continue
                results[key].latencies += latencies
                results[key].round_p50.append(statistics.median(latencies))
                say(f"  echo {key:<20} p50 {1000 * results[key].round_p50[-1]:.2f} ms")
    finally:
        for process, _ in servers.values():
            processes.stop(process)
        if bound_server is not None:
            processes.stop(bound_server)
    return results


# --- the whole ---------------------------------------------------------------------


def run(
    rounds: int | None = None,
    tests: int = 20,
    echo_messages: int = 300,
    say: Callable[[str], None] = print,
) -> Issue23:
    rounds = rounds or int(os.environ.get("BENCH_ISSUE23_ROUNDS", "3"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chat-bench-issue23-") as tmp:
        workdir = Path(tmp)
        say(f"Issue 23: spawn → Ready and idle memory, {rounds} interleaved rounds...")
        startup = measure_startup(rounds, workdir, say)
        imports: dict[str, Imports] = {}
        for spawned in SPAWNED:
            ready = startup[spawned.key].ready_s
            if spawned.command is not None and ready and statistics.median(ready) > READY_TARGET_S:
                try:
                    imports[spawned.key] = import_profile(spawned, workdir)
                except Exception as exc:  # reported in its row; the bench goes on
                    say(f"  importtime {spawned.key}: failed: {exc}")
                    continue
                say(f"  importtime {spawned.key}: {imports[spawned.key].total_s:.2f} s of imports")
        say(f"Issue 23: pytest, {tests} tests, a fresh stack each...")
        pytest_costs = measure_pytest(max(1, rounds - 1), tests, workdir, say)
        say(f"Issue 23: echo, {echo_messages} messages a round...")
        echo = measure_echo(rounds, echo_messages, workdir, say)
    wall = time.monotonic() - started
    return Issue23(rounds, echo_messages, startup, imports, pytest_costs, echo, wall)


def main() -> None:
    if sys.argv[1:2] == ["bound"]:
        url, ca, count = sys.argv[2:5]
        print(json.dumps(bound_client(url, ca, int(count))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 5 tests, 50 echoes")
    args = parser.parse_args()
    from bench import issue23_report

    result = run(rounds=1, tests=5, echo_messages=50) if args.quick else run()
    print()
    print(issue23_report.section(result))


if __name__ == "__main__":
    main()
