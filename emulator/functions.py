"""What the runner runs and reports: a function's spec, its failures, and its log.

Each function's log (its output, and CloudWatch-style START / END / REPORT lines and
error records) goes to ``<log_dir>/<function>.log``. The terminal gets the handler's
own output at INFO and the START / END / REPORT lines at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from emulator.inspector.observer import Observer
from emulator.stack import DEFAULT_RUNTIME

log = logging.getLogger("emulator.lambda")


@dataclass(frozen=True)
class FunctionSpec:
    """A deployed function, as the runner needs it."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    timeout: int
    memory: int
    environment: Mapping[str, str] = field(default_factory=dict)
    runtime: str = DEFAULT_RUNTIME


class InvocationError(Exception):
    """The function did not return a result: it raised, timed out or crashed."""

    def __init__(self, function: str, kind: str, detail: str, log_path: Path | None) -> None:
        super().__init__(f"{function}: {kind}: {detail}")
        self.function = function
        # "Handled", "Timeout", "Crash", "ResponseTooLarge" or "Unsupported"
        self.kind = kind
        self.detail = detail
        self.log_path = log_path


class FunctionLogs:
    """Each function's log file, opened on first use.

    A line is on disk once written (an error record is, before the terminal names the
    file), except an invocation's START, END and REPORT lines: those are flushed once
    the event loop's current round of callbacks is done, so that START, or END and
    REPORT, cost one write together; they are still on disk before anything the
    gateway does after them (a route's reply) and before any later line.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, IO[str]] = {}
        self._unflushed: set[IO[str]] = set()
        self.observer: Observer | None = None  # told of each line, by worker (the inspector)

    def path(self, function: str) -> Path:
        return self.directory / f"{function}.log"

    def _file(self, function: str) -> IO[str]:
        file = self._files.get(function)
        if file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            file = self._files[function] = self.path(function).open("a")
        return file

    def write(self, function: str, line: str) -> None:
        """A line in the function's log, on disk at once (with any frame lines before it)."""
        file = self._file(function)
        file.write(line + "\n")
        file.flush()
        self._unflushed.discard(file)

    def flush(self) -> None:
        """Write out every line written so far."""
        files, self._unflushed = self._unflushed, set()
        for file in files:
            file.flush()

    def output(self, function: str, line: str, pid: int = 0) -> None:
        """A line the handler (in worker ``pid``) printed or logged."""
        self.write(function, line)
        log.info("[%s] %s", function, line)
        if self.observer is not None:
            self.observer.invocation_output(pid, line)

    def frame(self, function: str, line: str) -> None:
        """A START / END / REPORT line: in the file (flushed with the loop round's other
        frame lines), on the terminal only when verbose."""
        file = self._file(function)
        file.write(line + "\n")
        self._flush_soon(file)
        log.debug("[%s] %s", function, line)

    def _flush_soon(self, file: IO[str]) -> None:
        if not self._unflushed:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop here: at once
                file.flush()
                return
        self._unflushed.add(file)

    def close(self) -> None:
        self._unflushed.clear()
        for file in self._files.values():
            file.close()
        self._files.clear()
