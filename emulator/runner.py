"""Runs Lambda functions as Lambda does: warm workers, one request at a time each.

Each function gets its own pool of workers (:mod:`emulator.workers`), started by
:class:`~emulator.launch.Launcher` on the function's own runtime: Python functions on
:mod:`emulator.worker`, Node.js and custom runtimes through the Lambda Runtime API
(:mod:`emulator.runtime_api`). A worker runs in the function's code directory with
only its own environment plus the variables Lambda sets, and can import only its code
and what Lambda's runtime provides. A worker that times out or dies is discarded and
a new one takes its place; nothing a handler does can take the gateway down.

This module is the pools and their scheduling: which worker takes an invocation, the
START / END / REPORT lines around it (:class:`~emulator.functions.FunctionLogs`),
retiring idle workers and swapping code on :meth:`LambdaRunner.update`.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator.debugging import DebugTarget
from emulator.forking import RESULT_LIMIT
from emulator.functions import FunctionLogs, FunctionSpec, InvocationError, log
from emulator.inspector.observer import Observer
from emulator.interpreters import Pythons
from emulator.launch import WORKER_SCRIPT, Launcher
from emulator.workers import Worker, WorkerFailure

__all__ = [
    "IDLE_WORKER_SECONDS",
    "MAX_WORKERS_PER_FUNCTION",
    "RESULT_LIMIT",
    "WORKER_SCRIPT",
    "FunctionLogs",
    "FunctionSpec",
    "InvocationError",
    "LambdaRunner",
    "log",
    "runtime_library",
]

MAX_WORKERS_PER_FUNCTION = 8
IDLE_WORKER_SECONDS = 120.0  # an idle worker is retired after this, as Lambda recycles

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


class LambdaRunner:
    """Invokes functions by name; ``runtime_env`` is what Lambda adds to every function.

    ``runtime`` is the folder of :func:`runtime_library` (boto3 for the emulator's own
    interpreter); ``resolve`` maps hostnames (an API's ``execute-api`` name) to the
    local ``(address, port)`` that serves them; ``pythons`` are interpreters given by
    hand for ``python3.X`` functions (``{"3.12": Path(...)}``), or a
    :class:`~emulator.interpreters.Pythons` that has looked for some already.
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
        pythons: Mapping[str, Path] | Pythons | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.logs = FunctionLogs(log_dir)
        self._idle: dict[str, list[Worker]] = {name: [] for name in functions}
        self._max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._reaper: asyncio.Task[None] | None = None
        self._slots = {name: asyncio.Semaphore(max_workers) for name in functions}
        self._busy: set[Worker] = set()
        self._live: set[Worker] = set()  # every worker started and not yet stopped
        self._launcher = Launcher(runtime_env, runtime, resolve, pythons, fork)
        self._launcher.prepare(self.functions.values())

    @property
    def debugged(self) -> Mapping[str, DebugTarget]:
        """The functions run under a debugger, by deployed name."""
        return self._launcher.debugged

    def debug(self, targets: Mapping[str, DebugTarget]) -> None:
        """Run these functions under a debugger: one worker each, never retired for idling,
        whose timeout is suspended while it is stopped (see :mod:`emulator.debugging`)."""
        self._launcher.debugged = dict(targets)
        for name in targets:
            self._slots[name] = asyncio.Semaphore(1)

    def refused(self) -> dict[str, str]:
        """Why the functions that don't run here don't (no node, a runtime not run…)."""
        reasons = {name: self._launcher.refused(spec) for name, spec in self.functions.items()}
        return {name: reason for name, reason in reasons.items() if reason is not None}

    async def prewarm(self, function: str) -> None:
        """Start a worker for ``function`` now, if it has none idle (a debugged one then
        listens for its debugger before the first invocation). A function that can't run
        here, or whose worker fails to start, gets none: its invocations say why."""
        spec = self.functions[function]
        if self._launcher.refused(spec) is not None:
            return
        async with self._slots[function]:
            pool = self._idle[function]
            if not any(worker.alive for worker in pool):
                try:
                    worker = await self._spawn(spec)
                except WorkerFailure as exc:
                    log.warning("function %s: its worker didn't start: %s", function, exc.detail)
                    return
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
        return self._launcher.environment(spec)

    async def _spawn(self, spec: FunctionSpec) -> Worker:
        worker = await self._launcher.start(spec, self.logs)
        self._live.add(worker)
        return worker

    async def invoke(self, function: str, event: Mapping[str, Any], trigger_id: str = "") -> Any:
        """Run one invocation; returns the handler's result or raises InvocationError.

        Like Lambda, each invocation has its own request id (a UUID), not the caller's;
        ``trigger_id`` (API Gateway's request id) goes into the START line for tracing.
        """
        spec = self.functions[function]
        request_id = str(uuid.uuid4())
        refused = self._launcher.refused(spec)
        if refused is not None:
            raise InvocationError(function, "Unsupported", refused, None)
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
                try:
                    worker = await self._spawn(spec)
                except WorkerFailure as exc:
                    self.logs.write(function, f"{request_id} {exc.detail}")
                    path = self.logs.path(function)
                    raise InvocationError(function, exc.kind, exc.detail, path) from exc
            self._busy.add(worker)
            observer = self.observer
            if observer is not None:
                observer.invocation_started(function, request_id, trigger_id, event, worker.pid)
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
            # The terminal gets the message's first line; the log has all of it.
            message = (str(error["errorMessage"]).strip().splitlines() or [""])[0]
            raise InvocationError(
                function,
                "Handled",
                f"{error['errorType']}: {message}",
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
        worker: Worker,
        spec: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        trigger_id: str,
    ) -> dict[str, Any]:
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000) + spec.timeout * 1000
        trigger = f" (API Gateway request {trigger_id})" if trigger_id else ""
        self.logs.frame(spec.name, f"START RequestId: {request_id} Version: $LATEST{trigger}")
        try:
            return await worker.call(request_id, deadline_ms, event, spec.timeout)
        except WorkerFailure as exc:
            if exc.kind == "Timeout":
                self.logs.write(
                    spec.name, f"{request_id} Task timed out after {spec.timeout:.2f} seconds"
                )
                detail = f"timed out after {spec.timeout} s"
            else:
                self.logs.write(spec.name, f"{request_id} {exc.detail}")
                detail = exc.detail
            raise InvocationError(spec.name, exc.kind, detail, self.logs.path(spec.name)) from exc
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

    async def update(self, functions: Mapping[str, FunctionSpec]) -> list[str]:
        """Serve these functions from now on; returns the names whose code or configuration
        changed. Their idle workers stop now, busy ones when their invocation ends, so the
        next invocation starts on the new code; nothing in flight is interrupted."""
        changed = [name for name, spec in functions.items() if self.functions.get(name) != spec]
        await asyncio.to_thread(self._launcher.prepare, [functions[name] for name in changed])
        retired: list[Worker] = []
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
        retired: list[Worker] = []
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

    async def recycle(self) -> int:
        """Stop every worker, busy or idle: the next invocation of each function starts a
        fresh one (a cold start, its module-level state new); returns how many stopped."""
        workers = [w for w in self._live if not w.stopped]
        for pool in self._idle.values():
            pool.clear()  # the same list: an invocation in flight holds it to return to
        self._busy.clear()
        self._live.clear()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        return len(workers)

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
            worker.hang_up()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        await self._launcher.close()
        self.logs.close()
