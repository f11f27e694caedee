"""Runs Lambda functions as Lambda does: warm worker processes, one request at a time each.

Each function gets its own pool of :mod:`emulator.worker` processes, started in the
function's code directory with only its own environment plus the variables Lambda
sets, and able to import only its code and what Lambda's Python runtime provides
(:func:`runtime_library`). A worker that times out or dies is discarded and a new one
takes its place; nothing a handler does can take the gateway down.

Each function's log (its output, and CloudWatch-style START / END / REPORT lines and
error records) goes to ``<log_dir>/<function>.log``. The terminal gets the handler's
own output at INFO and the START / END / REPORT lines at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from emulator import debugging
from emulator.debugging import DebugTarget
from emulator.inspector.observer import Observer

log = logging.getLogger("emulator.lambda")

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
MAX_WORKERS_PER_FUNCTION = 8
IDLE_WORKER_SECONDS = 120.0  # an idle worker is retired after this, as Lambda recycles
RESULT_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response limit
_STREAM_LIMIT = RESULT_LIMIT + 1024 * 1024

# What Lambda's Python runtime puts beside a function's code: boto3 and what it needs.
RUNTIME_LIBRARIES = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "dateutil": "python-dateutil",
    "six": "six",
    "urllib3": "urllib3",
}


def runtime_library(directory: Path) -> Path:
    """A folder holding only Lambda's runtime libraries, linked from this environment."""
    directory.mkdir(parents=True, exist_ok=True)
    for module, distribution in RUNTIME_LIBRARIES.items():
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{module} is not installed: the emulator needs boto3")
        locations = spec.submodule_search_locations
        source = Path(locations[0]) if locations else Path(spec.origin)
        metadata = importlib.metadata.distribution(distribution)
        files = [f for f in metadata.files or [] if f.name == "METADATA"]
        links = [source] + [Path(str(metadata.locate_file(f))).parent for f in files]
        for path in links:
            link = directory / path.name
            if not link.exists():
                link.symlink_to(path)
    return directory


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


class InvocationError(Exception):
    """The function did not return a result: it raised, timed out or crashed."""

    def __init__(self, function: str, kind: str, detail: str, log_path: Path | None) -> None:
        super().__init__(f"{function}: {kind}: {detail}")
        self.function = function
        self.kind = kind  # "Handled", "Timeout", "Crash" or "ResponseTooLarge"
        self.detail = detail
        self.log_path = log_path


class FunctionLogs:
    """Each function's log file, opened on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, IO[str]] = {}
        self.observer: Observer | None = None  # told of each line, by worker (the inspector)

    def path(self, function: str) -> Path:
        return self.directory / f"{function}.log"

    def write(self, function: str, line: str) -> None:
        file = self._files.get(function)
        if file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            file = self._files[function] = self.path(function).open("a", buffering=1)
        file.write(line + "\n")

    def output(self, function: str, line: str, pid: int = 0) -> None:
        """A line the handler (in worker ``pid``) printed or logged."""
        self.write(function, line)
        log.info("[%s] %s", function, line)
        if self.observer is not None:
            self.observer.invocation_output(pid, line)

    def frame(self, function: str, line: str) -> None:
        """A START / END / REPORT line: in the file, on the terminal only when verbose."""
        self.write(function, line)
        log.debug("[%s] %s", function, line)

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()


class _Forked:
    """A worker the template process forked, with what the runner needs of a process.

    It is the template's child, not ours: its end is seen through a pidfd (readable once
    it has exited), and its exit status is not known (``returncode`` is -1 after it).
    """

    def __init__(
        self,
        pid: int,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()
        self._pidfd = os.pidfd_open(pid)
        asyncio.get_running_loop().add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self.returncode = -1
        if not self._exited.done():
            self._exited.set_result(None)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def wait(self) -> int:
        await self._exited
        return -1


class _Template:
    """The template process: boto3 and its models loaded once, workers forked from it."""

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self._process: asyncio.subprocess.Process | None = None
        self._channel: socket.socket | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            "--template",
            str(theirs.fileno()),
            pass_fds=(theirs.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            env=_PROCESS_ENV | {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            start_new_session=True,
        )
        theirs.close()
        self._channel = ours
        return ours

    async def fork(self, cwd: Path, environment: dict[str, str]) -> _Forked:
        """A new worker in ``cwd`` with exactly ``environment``."""
        loop = asyncio.get_running_loop()
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        request = json.dumps({"cwd": str(cwd), "environment": environment}).encode() + b"\n"
        try:
            async with self._lock:
                channel = self._channel or await self._start()
                pid = await asyncio.to_thread(_ask_template, channel, request, theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        stdin_transport, stdin_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(ours[0], "wb", buffering=0)
        )
        stdin = asyncio.StreamWriter(stdin_transport, stdin_protocol, None, loop)
        readers = [await _read_pipe(loop, fd) for fd in ours[1:]]
        return _Forked(pid, stdin, readers[0], readers[1])

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


async def _read_pipe(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    protocol = asyncio.StreamReaderProtocol(reader)
    await loop.connect_read_pipe(lambda: protocol, os.fdopen(fd, "rb", buffering=0))
    return reader


def _ask_template(channel: socket.socket, request: bytes, fds: list[int]) -> int:
    socket.send_fds(channel, [request], fds)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = channel.recv(64)
        if not chunk:
            raise ConnectionError("the template process has gone")
        answer += chunk
    return int(answer)


# What every process the runner starts has: the template process has only this (and
# PATH); each worker has this too, beside its function's environment and Lambda's.
_PROCESS_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}


class _Worker:
    def __init__(
        self,
        process: asyncio.subprocess.Process | _Forked,
        spec: FunctionSpec,
        logs: FunctionLogs,
    ) -> None:
        self.process = process
        self.spec = spec  # the code and configuration it was started with
        self.function = spec.name
        self.idle_since = time.monotonic()
        self.stopped = False
        assert process.stderr is not None
        self.log_task = asyncio.create_task(self._relay_logs(process.stderr, logs))

    async def _relay_logs(self, stream: asyncio.StreamReader, logs: FunctionLogs) -> None:
        while line := await stream.readline():
            logs.output(self.function, line.decode(errors="replace").rstrip(), self.process.pid)

    @property
    def alive(self) -> bool:
        """Still running, as far as the kernel says (not only as far as asyncio noticed)."""
        if self.process.returncode is not None:
            return False
        try:
            state = Path(f"/proc/{self.process.pid}/stat").read_text().split(") ")[-1][0]
        except (OSError, IndexError):
            return False
        return state not in "ZX"  # a zombie or dead process can't take a request

    def peak_memory_mb(self) -> int:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    async def stop(self) -> None:
        self.stopped = True
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(self.log_task, return_exceptions=True)


def _can_fork() -> bool:
    """Forked workers need Linux's pidfds to see their end."""
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


def _bundles_sdk(code_dir: Path) -> bool:
    """A package with its own boto3 or botocore must not get the template's: exec it."""
    return (code_dir / "boto3").is_dir() or (code_dir / "botocore").is_dir()


class LambdaRunner:
    """Invokes functions by name; ``runtime_env`` is what Lambda adds to every function.

    ``runtime`` is the folder of :func:`runtime_library`; ``resolve`` maps hostnames
    (an API's ``execute-api`` name) to the local ``(address, port)`` that serves them.
    """

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        runtime_env: Mapping[str, str],
        runtime: Path,
        log_dir: Path,
        resolve: Mapping[str, tuple[str, int]] | None = None,
        max_workers: int = MAX_WORKERS_PER_FUNCTION,
        idle_timeout: float = IDLE_WORKER_SECONDS,
        fork: bool = True,
    ) -> None:
        self.functions = dict(functions)
        self._runtime_env = dict(runtime_env)
        self._runtime = runtime
        self._resolve = dict(resolve or {})
        self.logs = FunctionLogs(log_dir)
        self._idle: dict[str, list[_Worker]] = {name: [] for name in functions}
        self._max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._reaper: asyncio.Task[None] | None = None
        self._slots = {name: asyncio.Semaphore(max_workers) for name in functions}
        self._busy: set[_Worker] = set()
        self._live: set[_Worker] = set()  # every worker started and not yet stopped
        self._template = _Template(self._command()) if fork and _can_fork() else None
        self.debugged: dict[str, DebugTarget] = {}  # functions run under a debugger

    def debug(self, targets: Mapping[str, DebugTarget]) -> None:
        """Run these functions under a debugger: one worker each, never retired for idling,
        whose timeout is suspended while it is stopped (see :mod:`emulator.debugging`)."""
        self.debugged = dict(targets)
        for name in targets:
            self._slots[name] = asyncio.Semaphore(1)

    async def prewarm(self, function: str) -> None:
        """Start a worker for ``function`` now, if it has none idle (a debugged one then
        listens for its debugger before the first invocation)."""
        async with self._slots[function]:
            pool = self._idle[function]
            if not any(worker.alive for worker in pool):
                worker = await self._spawn(self.functions[function])
                pool.append(worker)

    @property
    def observer(self) -> Observer | None:
        """Told of each invocation and what its worker prints (the inspector), if set."""
        return self.logs.observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self.logs.observer = observer

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The worker's whole environment: the function's own, then Lambda's."""
        env = dict(spec.environment)
        env.update(self._runtime_env)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{os.urandom(16).hex()}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "_HANDLER": spec.handler,
                "_INVOKED_FUNCTION_ARN": spec.arn,
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                **_PROCESS_ENV,
            }
        )
        return env

    def _command(self) -> list[str]:
        command = [sys.executable, "-I", "-S", str(WORKER_SCRIPT), "--runtime", str(self._runtime)]
        for host, (address, port) in self._resolve.items():
            command += ["--resolve", f"{host}={address}:{port}"]
        return command

    async def _spawn(self, spec: FunctionSpec) -> _Worker:
        process: asyncio.subprocess.Process | _Forked
        debugged = self.debugged.get(spec.name)
        command, cwd, env = self._command(), spec.code_dir, self.environment(spec)
        if debugged is not None:  # started on its own, from its stable path, under debugpy
            debugged.point_at(spec.code_dir)
            command[1:1] = ["-X", "frozen_modules=off"]  # or debugpy may miss breakpoints
            command += debugged.worker_args()
            cwd = debugged.task_root
            env["LAMBDA_TASK_ROOT"] = str(debugged.task_root)
        if debugged is None and self._template is not None and not _bundles_sdk(spec.code_dir):
            process = await self._template.fork(spec.code_dir, env)
        else:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=_STREAM_LIMIT,
                start_new_session=True,  # Ctrl-C in the terminal is the emulator's, not theirs
            )
        worker = _Worker(process, spec, self.logs)
        self._live.add(worker)
        return worker

    async def invoke(self, function: str, event: Mapping[str, Any], trigger_id: str = "") -> Any:
        """Run one invocation; returns the handler's result or raises InvocationError.

        Like Lambda, each invocation has its own request id (a UUID), not the caller's;
        ``trigger_id`` (API Gateway's request id) goes into the START line for tracing.
        """
        spec = self.functions[function]
        request_id = str(uuid.uuid4())
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._retire_idle_workers())
        async with self._slots[function]:
            idle = self._idle[function]
            worker = None
            while idle and worker is None:
                worker = idle.pop()
                if not worker.alive:  # died while it waited (killed, out of memory…)
                    await worker.stop()
                    worker = None
            if worker is None:
                worker = await self._spawn(spec)
            self._busy.add(worker)
            observer = self.observer
            if observer is not None:
                observer.invocation_started(
                    function, request_id, trigger_id, event, worker.process.pid
                )
            try:
                reply = await self._run(worker, spec, event, request_id, trigger_id)
            except BaseException as exc:
                if observer is not None:
                    observer.invocation_ended(request_id, None, exc)
                self._busy.discard(worker)
                await worker.stop()
                raise
            if observer is not None:
                observer.invocation_ended(request_id, reply, None)
            self._busy.discard(worker)
            if worker.spec == self.functions.get(function):
                worker.idle_since = time.monotonic()
                idle.append(worker)
            else:  # the function was updated meanwhile: this environment is retired
                await worker.stop()
        if "error" in reply:
            error = reply["error"]
            self._record_error(function, request_id, error)
            raise InvocationError(
                function,
                "Handled",
                f"{error['errorType']}: {error['errorMessage']}",
                self.logs.path(function),
            )
        return reply.get("result")

    def _record_error(self, function: str, request_id: str, error: Mapping[str, Any]) -> None:
        """The error record Lambda's runtime logs: type, message, then the stack trace."""
        self.logs.write(
            function,
            f"[ERROR] {error['errorType']}: {error['errorMessage']} (RequestId: {request_id})",
        )
        for line in "".join(error.get("stackTrace") or []).rstrip().splitlines():
            self.logs.write(function, f"  {line}")

    async def _run(
        self,
        worker: _Worker,
        spec: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        trigger_id: str,
    ) -> dict[str, Any]:
        process = worker.process
        assert process.stdin is not None
        assert process.stdout is not None
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000) + spec.timeout * 1000
        trigger = f" (API Gateway request {trigger_id})" if trigger_id else ""
        self.logs.frame(spec.name, f"START RequestId: {request_id} Version: $LATEST{trigger}")
        request = {"requestId": request_id, "deadlineMs": deadline_ms, "event": event}
        log_path = self.logs.path(spec.name)
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            if spec.name in self.debugged:
                line = await debugging.result_line(process.stdout, spec.timeout)
            else:
                line = await asyncio.wait_for(process.stdout.readline(), timeout=spec.timeout)
        except TimeoutError:
            self.logs.write(
                spec.name, f"{request_id} Task timed out after {spec.timeout:.2f} seconds"
            )
            raise InvocationError(
                spec.name, "Timeout", f"timed out after {spec.timeout} s", log_path
            ) from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise InvocationError(
                spec.name, "Crash", "the worker process exited", log_path
            ) from exc
        except ValueError as exc:  # asyncio's line limit: the result is far too large
            raise InvocationError(spec.name, "ResponseTooLarge", "over 6 MB", log_path) from exc
        finally:
            duration = (time.monotonic() - started) * 1000
            used = worker.peak_memory_mb()
            self.logs.frame(spec.name, f"END RequestId: {request_id}")
            self.logs.frame(
                spec.name,
                f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                f"Billed Duration: {int(duration) + 1} ms\tMemory Size: {spec.memory} MB\t"
                f"Max Memory Used: {used} MB",
            )
            if self.observer is not None:
                self.observer.invocation_report(request_id, duration, spec.memory, used)
        if not line:
            raise InvocationError(spec.name, "Crash", "the worker process exited", log_path)
        if len(line) > RESULT_LIMIT:
            raise InvocationError(
                spec.name, "ResponseTooLarge", f"{len(line)} bytes; over 6 MB", log_path
            )
        return dict(json.loads(line))

    async def update(self, functions: Mapping[str, FunctionSpec]) -> list[str]:
        """Serve these functions from now on; returns the names whose code or configuration
        changed. Their idle workers stop now, busy ones when their invocation ends, so the
        next invocation starts on the new code; nothing in flight is interrupted."""
        changed = [name for name, spec in functions.items() if self.functions.get(name) != spec]
        retired: list[_Worker] = []
        for name in changed:
            self.functions[name] = functions[name]
            self._slots.setdefault(name, asyncio.Semaphore(self._max_workers))
            pool = self._idle.setdefault(name, [])
            retired += pool
            pool.clear()  # the same list: an invocation in flight holds it to return to
        await asyncio.gather(*(w.stop() for w in retired), return_exceptions=True)
        return changed

    async def retire_idle(self, idle_for: float) -> int:
        """Stop workers idle for ``idle_for`` seconds, as Lambda recycles environments."""
        now = time.monotonic()
        retired: list[_Worker] = []
        for pool in self._idle.values():
            keep = [
                w
                for w in pool
                if (w.function in self.debugged or now - w.idle_since < idle_for) and w.alive
            ]
            retired += [w for w in pool if w not in keep]
            pool[:] = keep  # the same list: an invocation in flight holds it to return to
        await asyncio.gather(*(w.stop() for w in retired), return_exceptions=True)
        self._live = {w for w in self._live if not w.stopped}
        return len(retired)

    async def _retire_idle_workers(self) -> None:
        while True:
            await asyncio.sleep(min(self._idle_timeout / 4, 5.0))
            await self.retire_idle(self._idle_timeout)

    @property
    def worker_count(self) -> int:
        return sum(len(pool) for pool in self._idle.values()) + len(self._busy)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        # Every worker ever started and not stopped: idle, busy, or still being set up.
        workers = [w for w in self._live if not w.stopped]
        for pool in self._idle.values():
            pool.clear()
        self._busy.clear()
        self._live.clear()
        for worker in workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        if self._template is not None:
            await self._template.close()
        self.logs.close()
