"""The setups compared, each started as its own process tree with its own driver.

A setup's *measured* process is the root of the tree whose CPU and memory count: the
server with everything it started (moto, Lambda workers, Node's Python runners). Its
*driver* takes the load generator's commands: a :mod:`bench.loadgen` process for the
WebSocket setups; for the bound, the boto3 poster itself (its cost is the point), on the
interpreter ours runs the handler on (:mod:`bench.bound_python`).
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import bound, bound_python, ministack, peers, processes
from bench.peers import Unavailable
from bench.workload import NODE_TEMPLATE, STAGE, TEMPLATE

# Our emulator, serving the template as a user would.
OURS_COMMAND = processes.python(
    "emulator", "serve", str(TEMPLATE), "--port", "0", "--stage", STAGE, "--quiet"
)
# The same, keeping no inspector record: what the inspector costs the data plane.
OURS_BARE_COMMAND = [*OURS_COMMAND, "--no-inspector"]
OURS_NODE_COMMAND = processes.python(
    "emulator", "serve", str(NODE_TEMPLATE), "--port", "0", "--stage", STAGE, "--quiet"
)
OURS_URL = re.compile(r"WebSocket API\s+(?P<url>ws://\S+)")
STARTUP_TIMEOUT = 120
QUIT_TIMEOUT = 15  # closing 1,118 sockets
READY_TIMEOUT = 240  # opening 1,118 sockets on the slowest peer, one $connect each


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    role: str  # "floor", "ours", "peer" or "bound"
    note: str
    language: str = "python"  # the handler's: "python" or "node"


SETUPS = (
    Setup("floor", "floor: minimal `websockets` broadcast", "floor", "no AWS at all"),
    Setup(
        "ours",
        "this project's emulator",
        "ours",
        "`python -m emulator serve template.yaml`; endpoint from domainName + stage",
    ),
    Setup(
        "ours-no-inspector",
        "this project's emulator, `--no-inspector`",
        "ours",
        "the same, keeping no record for the inspector",
    ),
    Setup(
        "serverless-offline",
        "serverless-offline",
        "peer",
        "DynamoDB from moto; needs CONNECTIONS_ENDPOINT",
    ),
    Setup("ministack", "MiniStack", "peer", "its own DynamoDB; needs CONNECTIONS_ENDPOINT"),
    Setup(
        "ours-node",
        "this project's emulator, Node.js",
        "ours",
        "nodejs20.x on the machine's node through the Runtime API; endpoint from domainName "
        "+ stage",
        "node",
    ),
    Setup(
        "serverless-offline-node",
        "serverless-offline, Node.js",
        "peer",
        "in its own process; DynamoDB from moto; needs CONNECTIONS_ENDPOINT",
        "node",
    ),
    Setup(
        "ministack-node",
        "MiniStack, Node.js",
        "peer",
        "SDK bundled in the zip; its own DynamoDB; needs CONNECTIONS_ENDPOINT",
        "node",
    ),
    Setup(
        "bound",
        "bound: boto3 posts to a 200-only HTTPS server",
        "bound",
        "client CPU only: the handler's ceiling",
    ),
)


@dataclass
class Running:
    """A started setup: what is measured, who drives it, and what it took to get there."""

    setup: Setup
    measured: subprocess.Popen[str]
    driver: subprocess.Popen[str]
    helpers: list[subprocess.Popen[str]] = field(default_factory=list)
    version: str = ""
    startup_s: float = 0.0
    connect_s: float = 0.0
    connections: int = 0
    replies: queue.Queue[str] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True, name=f"{self.setup.key}-replies").start()

    def _read(self) -> None:
        assert self.driver.stdout is not None
        for line in self.driver.stdout:
            self.replies.put(line)

    def reply(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self.replies.get(timeout=timeout)))
        except queue.Empty:
            status = self.driver.poll()
            why = "exited" if status is not None else f"no answer in {timeout:.0f} s"
            raise Unavailable(f"the load generator {why}") from None

    def command(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.driver.stdin is not None
        self.driver.stdin.write(json.dumps(command) + "\n")
        self.driver.stdin.flush()
        return self.reply(timeout)

    def stop(self) -> None:
        """Let the driver close its sockets (a quit command), then stop every process."""
        if self.driver.poll() is None and self.driver.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.driver.stdin.write(json.dumps({"quit": True}) + "\n")
                self.driver.stdin.flush()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.driver.wait(QUIT_TIMEOUT)
        for process in [self.driver, self.measured, *self.helpers]:
            processes.stop(process)


def start_server(setup: Setup, workdir: Path) -> tuple[subprocess.Popen[str], str, str]:
    """Start the server under test; returns it, its WebSocket URL and its version."""
    log = workdir / f"{setup.key}.log"
    if setup.key == "floor":
        process, where = processes.start_server(
            processes.python("bench.floor"), log, STARTUP_TIMEOUT
        )
        return process, where["url"], ""
    node = setup.language == "node"
    if setup.key in ("ours", "ours-no-inspector", "ours-node"):
        commands = {"ours-no-inspector": OURS_BARE_COMMAND, "ours-node": OURS_NODE_COMMAND}
        command = commands.get(setup.key, OURS_COMMAND)
        process, where = processes.start_server(command, log, STARTUP_TIMEOUT, OURS_URL)
        return process, where["url"], ""
    if setup.key in ("serverless-offline", "serverless-offline-node"):
        installed = peers.serverless_offline()
        arguments = [str(installed.root), *(["--node"] if node else [])]
        command = processes.python("bench.serve_offline", *arguments)
        process, where = processes.start_server(command, log, STARTUP_TIMEOUT)
        return process, where["url"], installed.version
    if setup.key in ("ministack", "ministack-node"):
        installed = peers.ministack()
        process, url = ministack.start(installed, log, node)
        return process, url, installed.version
    raise ValueError(setup.key)


def start(
    setup: Setup, workdir: Path, rooms: list[int], senders: int, watch: Callable[[str, int], None]
) -> Running:
    """Start a setup and its driver, and wait until every socket is open and warm.

    ``watch`` hears of the measured process as soon as it exists, so that memory is
    sampled while the sockets open too.
    """
    started = time.monotonic()
    log = workdir / f"{setup.key}-driver.log"
    if setup.role == "bound":
        python = bound_python.find(workdir)
        server, where = bound.start(workdir, workdir / "bound.log", STARTUP_TIMEOUT)
        client = python.command("bench.bound_client", "poster", where["url"], where["ca"])
        driver = processes.launch(client, log, env=python.env(), stdout_pipe=True)
        running = Running(
            setup, measured=driver, driver=driver, helpers=[server], version=python.label
        )
        watch(setup.key, driver.pid)
    else:
        measured, url, version = start_server(setup, workdir)
        watch(setup.key, measured.pid)
        loadgen = processes.python(
            "bench.loadgen", url, "--rooms", ",".join(map(str, rooms)), "--senders", str(senders)
        )
        driver = processes.launch(loadgen, log, stdout_pipe=True)
        running = Running(setup, measured=measured, driver=driver, version=version)
    running.startup_s = time.monotonic() - started
    try:
        ready = running.reply(READY_TIMEOUT)
    except Unavailable:
        running.stop()
        raise
    if not ready.get("ready"):
        running.stop()
        raise Unavailable(f"the load generator could not connect: {ready.get('error')}")
    running.connect_s = float(ready["connect_s"])
    running.connections = int(ready["connections"])
    return running


def start_all(
    workdir: Path, rooms: list[int], senders: int, watch: Callable[[str, int], None]
) -> tuple[dict[str, Running], dict[str, str]]:
    """Start every setup at once (each in a thread); returns the running and the skipped."""
    running: dict[str, Running] = {}
    skipped: dict[str, str] = {}

    def one(setup: Setup) -> None:
        try:
            result = start(setup, workdir, rooms, senders, watch)
        except Unavailable as exc:
            skipped[setup.key] = str(exc)
            return
        except Exception as exc:
            skipped[setup.key] = f"{type(exc).__name__}: {exc}"
            return
        running[setup.key] = result

    threads = [threading.Thread(target=one, args=(s,)) for s in SETUPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return running, skipped
