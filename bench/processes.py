"""Starting and stopping the bench's processes: each in its own session, logged to a file.

A server announces itself with one JSON line on stdout (see :mod:`bench.serving`);
its output goes to a log file, never a pipe it could fill. Stopping closes its stdin,
sends SIGTERM to its process group, and SIGKILL if it is still there after a grace
period, so nothing the bench started outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.peers import Unavailable

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.05


def free_port() -> int:
    """A port free now (for tools that can't be told to take port 0 and say which)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'handlers'}"
    env.update(extra or {})
    return env


def launch(
    command: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    stdout_pipe: bool = False,
    own_group: bool = True,
) -> subprocess.Popen[str]:
    """Start ``command``; stderr (and stdout unless piped) to ``log``.

    With ``own_group`` it leads a new session, and :func:`stop` ends its whole group.
    Without, it stays in its parent's group, so that stopping the parent ends it too.
    """
    with log.open("a") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env) if env is not None else python_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if stdout_pipe else out,
            stderr=out,
            text=True,
            start_new_session=own_group,
        )


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _tail(log: Path, lines: int = 4) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(line.strip() for line in text[-lines:])


def announcement(
    process: subprocess.Popen[str],
    log: Path,
    timeout: float,
    pattern: re.Pattern[str] | None = None,
) -> dict[str, Any]:
    """Wait for the line a server prints once it serves (in its log).

    That is a JSON object with a ``url`` for the bench's own servers, or a line that
    ``pattern`` matches, whose named groups are returned.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in log.read_text(errors="replace").splitlines():
                if pattern is not None:
                    if match := pattern.search(line):
                        return match.groupdict()
                elif line.startswith("{") and '"url"' in line:
                    return dict(json.loads(line))
        except OSError:
            pass
        if process.poll() is not None:
            raise Unavailable(f"exited with status {process.returncode}: {_tail(log)}")
        time.sleep(POLL)
    raise Unavailable(f"not serving after {timeout:.0f} s: {_tail(log)}")


def start_server(
    command: list[str],
    log: Path,
    timeout: float,
    pattern: re.Pattern[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """:func:`launch` a server and wait for its :func:`announcement`; stop it if none comes."""
    process = launch(command, log, env=env, cwd=cwd)
    try:
        return process, announcement(process, log, timeout, pattern)
    except BaseException:
        stop(process)
        raise


def wait_for_port(port: int, process: subprocess.Popen[str], log: Path, timeout: float) -> None:
    """Poll until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"exited with status {process.returncode}: {_tail(log)}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(POLL)
    raise Unavailable(f"port {port} not open after {timeout:.0f} s: {_tail(log)}")


def stop_child(process: subprocess.Popen[str], grace: float = 5) -> None:
    """Stop a process started with ``own_group=False`` (its group is its parent's)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], grace: float = 10) -> None:
    """Close stdin, SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
    if process.stdin is not None and not process.stdin.closed:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    # The group may outlive its leader (a Node server's Python runners): end all of it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
