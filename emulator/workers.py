"""One execution environment each: a process, what it logs, and how it takes a request.

Two kinds, one interface (:meth:`Worker.call`):

- :class:`PythonWorker`: our :mod:`emulator.worker`, forked from a preloaded template or
  started on its own; requests and results are JSON lines on its stdin and stdout, its
  output is its stderr.
- :class:`ApiWorker`: any runtime that speaks Lambda's Runtime API (our Node.js client,
  a custom runtime's ``bootstrap``), with its own :class:`~emulator.runtime_api.RuntimeApi`
  endpoint; its output is its stdout and stderr.

A worker that fails a request in a way that leaves it unusable (timeout, crash) raises
:class:`WorkerFailure`; the runner stops it and starts another next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emulator import debugging
from emulator.forking import RESULT_LIMIT, STREAM_LIMIT, Forked
from emulator.functions import FunctionLogs, FunctionSpec
from emulator.node_debug import PauseWatch
from emulator.runtime_api import Invocation, RuntimeApi

_COMPACT = json.JSONEncoder(separators=(",", ":"))  # one for every event (not one a call)


class WorkerFailure(Exception):
    """The worker gave no result: ``kind`` is Timeout, Crash or ResponseTooLarge."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Worker:
    """A started execution environment for ``spec``'s function."""

    def __init__(
        self,
        process: asyncio.subprocess.Process | Forked,
        spec: FunctionSpec,
        logs: FunctionLogs,
        output: Sequence[asyncio.StreamReader],
    ) -> None:
        self.process = process
        self.spec = spec  # the code and configuration it was started with
        self.function = spec.name
        self.idle_since = time.monotonic()
        self.stopped = False
        self._proc_fds: dict[str, int] = {}  # descriptors of its /proc files, by name
        self.log_tasks = [asyncio.create_task(self._relay_logs(s, logs)) for s in output]

    async def _relay_logs(self, stream: asyncio.StreamReader, logs: FunctionLogs) -> None:
        with contextlib.suppress(ValueError):  # a line over the stream limit ends the relay
            while line := await stream.readline():
                logs.output(self.function, line.decode(errors="replace").rstrip(), self.pid)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        """Still running, as far as the kernel says (not only as far as asyncio noticed)."""
        if self.process.returncode is not None:
            return False
        stat = self._read_proc("stat")
        if stat is None:
            return False
        end = stat.rfind(b")")  # the command may hold ") " itself: the last one ends it
        state = stat[end + 2 : end + 3]
        return state not in (b"", b"Z", b"X")  # a zombie or dead process can't take a request

    def peak_memory_mb(self) -> int:
        status = self._read_proc("status")
        start = -1 if status is None else status.find(b"\nVmHWM:")
        if status is None or start < 0:
            return 0
        return int(status[start + 7 : status.index(b"\n", start + 1)].split()[0]) // 1024

    def _read_proc(self, name: str) -> bytes | None:
        """``/proc/<pid>/<name>`` now, or None once the process is gone. Read on every
        invocation, so its descriptor stays open: one ``pread`` a time, not an open, read
        and close. It names this process only; after its end, reading it fails."""
        if self.stopped:
            return None
        fd = self._proc_fds.get(name)
        try:
            if fd is None:
                fd = self._proc_fds[name] = os.open(f"/proc/{self.pid}/{name}", os.O_RDONLY)
            return os.pread(fd, 16 * 1024, 0)
        except OSError:
            return None

    def _close_proc(self) -> None:
        for fd in self._proc_fds.values():
            os.close(fd)
        self._proc_fds.clear()

    async def call(
        self, request_id: str, deadline_ms: int, event: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        """One invocation: ``{"result": …}`` or ``{"error": {…}}``; raises WorkerFailure."""
        raise NotImplementedError

    def hang_up(self) -> None:
        """Tell the worker no more requests come (an idle one then ends by itself)."""

    async def stop(self) -> None:
        self.stopped = True
        self._close_proc()
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(*self.log_tasks, return_exceptions=True)


class PythonWorker(Worker):
    """:mod:`emulator.worker`: JSON lines in on stdin, out on stdout; output on stderr."""

    def __init__(
        self,
        process: asyncio.subprocess.Process | Forked,
        spec: FunctionSpec,
        logs: FunctionLogs,
        debugged: bool = False,
    ) -> None:
        assert process.stderr is not None
        super().__init__(process, spec, logs, [process.stderr])
        # Under debugpy: its timeout runs only while it isn't stopped in the debugger.
        self.debugged = debugged

    async def call(
        self, request_id: str, deadline_ms: int, event: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        process = self.process
        assert process.stdin is not None
        assert process.stdout is not None
        request = {"requestId": request_id, "deadlineMs": deadline_ms, "event": event}
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            if self.debugged:
                line = await debugging.result_line(process.stdout, timeout)
            else:
                async with asyncio.timeout(timeout):  # not wait_for's task a call (3.11)
                    line = await process.stdout.readline()
        except TimeoutError:
            raise WorkerFailure("Timeout", f"timed out after {timeout:g} s") from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise WorkerFailure("Crash", "the worker process exited") from exc
        except ValueError as exc:  # asyncio's line limit: the result is far too large
            raise WorkerFailure("ResponseTooLarge", "over 6 MB") from exc
        if not line:
            raise WorkerFailure("Crash", "the worker process exited")
        if len(line) > RESULT_LIMIT:
            raise WorkerFailure("ResponseTooLarge", f"{len(line)} bytes; over 6 MB")
        return dict(json.loads(line))

    def hang_up(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()


class ApiWorker(Worker):
    """A runtime that speaks the Runtime API at its own endpoint."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        spec: FunctionSpec,
        logs: FunctionLogs,
        api: RuntimeApi,
    ) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        super().__init__(process, spec, logs, [process.stdout, process.stderr])
        self.api = api
        self._exited = asyncio.ensure_future(process.wait())
        # Under node --inspect: its timeout runs only while it isn't paused.
        self.watch: PauseWatch | None = None

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        spec: FunctionSpec,
        environment: Mapping[str, str],
        logs: FunctionLogs,
        cwd: Path | None = None,
    ) -> ApiWorker:
        """Start ``command`` in the function's code folder (or ``cwd``) with a Runtime API
        of its own."""
        api = RuntimeApi()
        address = await api.start()
        # Linux: the runtime dies with the runner, however the runner dies.
        guard = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        try:
            process = await asyncio.create_subprocess_exec(
                *guard,
                *command,
                cwd=cwd or spec.code_dir,
                env={**environment, "AWS_LAMBDA_RUNTIME_API": address},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=STREAM_LIMIT,
                start_new_session=True,  # Ctrl-C in the terminal is the emulator's, not theirs
            )
        except OSError as exc:
            await api.close()
            raise WorkerFailure("Crash", f"could not start {command[0]}: {exc.strerror}") from exc
        return cls(process, spec, logs, api)

    async def call(
        self, request_id: str, deadline_ms: int, event: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        invocation = Invocation(
            request_id=request_id,
            event=_COMPACT.encode(event).encode(),
            deadline_ms=deadline_ms,
            function_arn=self.spec.arn,
            trace_id=_trace_id(),
        )
        answered = asyncio.ensure_future(self.api.invoke(invocation))
        try:
            await self._wait(answered, timeout)
        finally:
            if not answered.done():
                answered.cancel()
                await asyncio.gather(answered, return_exceptions=True)
        if answered.done() and not answered.cancelled():
            outcome = answered.result()
            if outcome.kind == "too_large":
                raise WorkerFailure("ResponseTooLarge", "over 6 MB")
            return outcome.reply()
        if self._exited.done():
            status = self._exited.result()
            raise WorkerFailure("Crash", f"Runtime exited with error: exit status {status}")
        raise WorkerFailure("Timeout", f"timed out after {timeout:g} s")

    async def _wait(self, answered: asyncio.Future[Any], timeout: float) -> None:
        """Until answered, exited, or ``timeout`` seconds not paused in a debugger."""
        watch = self.watch
        if watch is None:
            await asyncio.wait(
                {answered, self._exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout - watch.paused_for()
        while not answered.done() and not self._exited.done():
            left = None if watch.paused else deadline + watch.paused_for() - loop.time()
            if left is not None and left <= 0:
                return
            change = asyncio.ensure_future(watch.changed())
            try:
                await asyncio.wait(
                    {answered, self._exited, change},
                    timeout=left,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                change.cancel()

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        # The whole session: a shell bootstrap's children (curl, its handler) go too, and
        # with them the last holders of its output pipes.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await super().stop()
        await self.api.close()


def _trace_id() -> str:
    """An X-Ray trace header as Lambda passes it: a new root, a parent, not sampled."""
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"
