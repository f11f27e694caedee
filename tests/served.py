"""``python -m emulator serve`` in a child process, as a user runs it, for the tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.timing import seconds

ROOT = Path(__file__).resolve().parent.parent
_URL = re.compile(r"WebSocket API\s+(?P<url>ws://\S+)")


class Served:
    """A running ``serve``: its output so far, and the URLs its banner printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first output line (from now on, or already seen) matching ``pattern``."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + seconds(timeout)
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} in time; output:\n" + "\n".join(self.lines)
                ) from None
            if line is None:
                raise AssertionError(
                    f"serve exited ({self.process.wait()}) before {pattern!r}; output:\n"
                    + "\n".join(self.lines)
                )
            self.lines.append(line)
            if match := regex.search(line):
                return match

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def url(self) -> str:
        return self.wait_for(_URL.pattern)["url"]

    def stop(self) -> int:
        """Ctrl-C, as a terminal sends it (to the whole foreground process group);
        returns the exit status once it has exited."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            status = self.process.wait(timeout=seconds(30))
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.drain()
        return status

    def drain(self) -> None:
        """Collect whatever output is left after the process has exited."""
        while (line := self._queue.get(timeout=seconds(10))) is not None:
            self.lines.append(line)


def run(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> Served:
    """Start a command in a process group of its own, as a shell starts a foreground job."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    environment.update(env or {})
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Served(process)


def start(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Served:
    """Start ``python -m emulator serve <args>`` with every port free-chosen."""
    command = [sys.executable, "-m", "emulator", "serve", *args, "--port", "0"]
    return run(command, cwd, env)


@contextmanager
def serving(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Iterator[Served]:
    """A served stack for the length of a ``with``; stopped with Ctrl-C after."""
    served = start(*args, cwd=cwd, env=env)
    try:
        served.wait_for(_URL.pattern)  # ready, or the failure with the output
        yield served
    finally:
        status = served.stop()
        assert status == 0, served.output


def is_running(pid: int) -> bool:
    """Whether the process ``pid`` exists and is neither a zombie nor dead."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False
