"""Start and stop a real LocalStack for ``make localstack`` and the LocalStack test tier.

Two ways, chosen by what the machine has: ``docker compose`` with
``docker-compose.localstack.yml`` when a Docker engine answers, otherwise LocalStack
from PyPI (``localstack-core``) in host mode, in its own Python 3.13 environment
(``.venv-localstack``, made by ``make localstack-venv``). Offline, LocalStack's
DynamoDB needs what :mod:`scripts.localstack_offline` lays out first.

    python -m scripts.localstack up [--port 4566]   # start one, detached
    python -m scripts.localstack down               # stop the one `up` started
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.localstack_offline import FILESYSTEM_ROOT, STATE_DIR, LocalStackError, prepare_offline
from scripts.stack import ROOT

DEFAULT_PORT = 4566
VENV_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
RUN_FILE = STATE_DIR / "run.json"
LOG_FILE = STATE_DIR / "localstack.log"
COMPOSE_FILE = ROOT / "docker-compose.localstack.yml"
# LocalStack's Lambda without Docker: keeps functions, runs none (see the module there).
NO_DOCKER_EXECUTOR_DIR = ROOT / "localstack-plugin"
NO_DOCKER_EXECUTOR = "chat-no-docker"


def endpoint_for(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def health(endpoint: str, timeout: float = 2.0) -> dict[str, object] | None:
    """LocalStack's health document, or None when nothing (or not LocalStack) answers."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=timeout) as reply:
            document = json.load(reply)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and "services" in document else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def docker_engine() -> bool:
    """True when a Docker engine answers (not merely when the docker CLI exists)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


@dataclass(frozen=True)
class Running:
    """A LocalStack this module started: how, where, and what to stop."""

    endpoint: str
    how: str  # "pypi" | "docker"
    pid: int | None = None  # the host-mode process (leader of its own process group)

    def write(self, path: Path = RUN_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)) + "\n")

    @classmethod
    def read(cls, path: Path = RUN_FILE) -> Running | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def start(port: int = 0, ready_within: float = 120.0, log_file: Path = LOG_FILE) -> Running:
    """Start LocalStack on ``port`` (0: a free one) and wait until it answers."""
    port = port or free_port()
    endpoint = endpoint_for(port)
    if docker_engine():
        environment = {**os.environ, "LOCALSTACK_PORT": str(port)}
        compose = ["docker", "compose", "-f", str(COMPOSE_FILE)]
        result = subprocess.run([*compose, "up", "-d"], env=environment, check=False)
        if result.returncode != 0:
            raise LocalStackError("`docker compose up` failed (its output is above)")
        running = Running(endpoint, "docker")
    else:
        running = _start_from_pypi(port, log_file)
    try:
        _wait_until_healthy(running, ready_within, log_file)
    except BaseException:
        stop(running)
        raise
    return running


def _start_from_pypi(port: int, log_file: Path) -> Running:
    if not VENV_PYTHON.exists():
        raise LocalStackError(
            f"no {VENV_PYTHON.parent.parent.name}: `make localstack-venv` creates LocalStack's "
            "own environment (it needs Python 3.13)"
        )
    prepare_offline()
    environment = {
        **os.environ,
        "OVERRIDE_IN_DOCKER": "0",  # host mode even inside a container: FILESYSTEM_ROOT counts
        "FILESYSTEM_ROOT": str(FILESYSTEM_ROOT),
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "DNS_ADDRESS": "0",  # no DNS server on port 53
        "DISABLE_EVENTS": "1",  # no usage events sent home
        "SKIP_SSL_CERT_DOWNLOAD": "1",  # a self-signed certificate, not a download
        # No Docker here (or compose would run LocalStack): its Lambda keeps the
        # functions and runs none; the gateway emulator runs them.
        "LAMBDA_RUNTIME_EXECUTOR": NO_DOCKER_EXECUTOR,
        "PYTHONPATH": str(NO_DOCKER_EXECUTOR_DIR),
    }
    for name in ("VIRTUAL_ENV", "AWS_ENDPOINT_URL"):
        environment.pop(name, None)  # ours, not LocalStack's
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "localstack.runtime.main"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends DynamoDB Local too
        )
    return Running(endpoint_for(port), "pypi", process.pid)


def _wait_until_healthy(running: Running, within: float, log_file: Path) -> None:
    deadline = time.monotonic() + within
    while health(running.endpoint) is None:
        if running.pid is not None and not _alive(running.pid):
            raise LocalStackError(f"LocalStack exited while starting: see {log_file}")
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"LocalStack did not answer at {running.endpoint} within {within:.0f} s: "
                f"see {log_file}"
            )
        time.sleep(0.25)  # polling a process we started; there is no event to wait on


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (started by an earlier `up`)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return finished == 0


def stop(running: Running, within: float = 30.0) -> None:
    """Stop a LocalStack that :func:`start` started, and everything it started."""
    if running.how == "docker":
        subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "down"],
            env={**os.environ, "LOCALSTACK_PORT": running.endpoint.rsplit(":", 1)[1]},
            check=False,
        )
        return
    assert running.pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + within
    while _group_alive(running.pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    _alive(running.pid)  # reap it when it is our child


def _group_alive(pgid: int) -> bool:
    _alive(pgid)  # reap the leader if it is ours, so a zombie doesn't count
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def running_localstack(endpoint: str | None = None) -> Iterator[str]:
    """A LocalStack for the duration: ``endpoint``'s, the one on 4566, or one started here.

    Only one started here is stopped at the end.
    """
    if endpoint is not None:
        if health(endpoint) is None:
            raise LocalStackError(f"LocalStack is not running at {endpoint}")
        yield endpoint
        return
    default = endpoint_for(DEFAULT_PORT)
    if health(default) is not None:
        yield default
        return
    started = start()
    try:
        yield started.endpoint
    finally:
        stop(started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start or stop LocalStack for the chat.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start LocalStack, detached, unless one is running")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 4566; 0: a free one")
    commands.add_parser("down", help="stop the LocalStack that `up` started")
    commands.add_parser("prepare", help="lay out DynamoDB Local and Java for offline use")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            for change in prepare_offline() or ["already in place"]:
                print(f"  offline: {change}")
        elif args.command == "up":
            endpoint = endpoint_for(args.port) if args.port else None
            if endpoint is not None and health(endpoint) is not None:
                print(f"LocalStack is already running at {endpoint}")
                return 0
            running = start(args.port)
            running.write()
            way = "docker compose" if running.how == "docker" else "PyPI, host mode"
            print(f"LocalStack ({way}) is running at {running.endpoint}; log: {LOG_FILE}")
            print("Stop it with `make localstack-down`.")
        else:
            found = Running.read()
            if found is None:
                print("No LocalStack started by `make localstack-up` is recorded; nothing to stop.")
                return 0
            stop(found)
            RUN_FILE.unlink(missing_ok=True)
            print(f"Stopped LocalStack at {found.endpoint}.")
    except LocalStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
