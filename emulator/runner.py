"""Runs Lambda functions as Lambda does: warm worker processes, one request at a time each.

Each function gets its own pool of :mod:`emulator.worker` processes, started in the
function's code directory with only its own environment plus the variables Lambda
sets. A worker that times out or dies is discarded and a new one takes its place;
nothing a handler does can take the gateway down. Log lines come out under the
function's name, framed by CloudWatch-style START / END / REPORT lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("emulator.lambda")

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
MAX_WORKERS_PER_FUNCTION = 8
RESULT_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response limit
_STREAM_LIMIT = RESULT_LIMIT + 1024 * 1024


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

    def __init__(self, function: str, kind: str, detail: str) -> None:
        super().__init__(f"{function}: {kind}: {detail}")
        self.function = function
        self.kind = kind  # "Handled", "Timeout" or "Crash"
        self.detail = detail


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, function: str) -> None:
        self.process = process
        self.function = function
        assert process.stderr is not None
        self.log_task = asyncio.create_task(self._relay_logs(process.stderr))

    async def _relay_logs(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            log.info("[%s] %s", self.function, line.decode(errors="replace").rstrip())

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
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(self.log_task, return_exceptions=True)


class LambdaRunner:
    """Invokes functions by name; ``runtime_env`` is what Lambda adds to every function."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        runtime_env: Mapping[str, str],
        max_workers: int = MAX_WORKERS_PER_FUNCTION,
    ) -> None:
        self.functions = dict(functions)
        self._runtime_env = dict(runtime_env)
        self._idle: dict[str, list[_Worker]] = {name: [] for name in functions}
        self._slots = {name: asyncio.Semaphore(max_workers) for name in functions}
        self._busy: set[_Worker] = set()

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
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    async def _spawn(self, spec: FunctionSpec) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-s",
            str(WORKER_SCRIPT),
            cwd=spec.code_dir,
            env=self.environment(spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_STREAM_LIMIT,
        )
        return _Worker(process, spec.name)

    async def invoke(self, function: str, event: Mapping[str, Any], trigger_id: str = "") -> Any:
        """Run one invocation; returns the handler's result or raises InvocationError.

        Like Lambda, each invocation has its own request id (a UUID), not the caller's;
        ``trigger_id`` (API Gateway's request id) goes into the START line for tracing.
        """
        spec = self.functions[function]
        request_id = str(uuid.uuid4())
        async with self._slots[function]:
            idle = self._idle[function]
            worker = idle.pop() if idle else await self._spawn(spec)
            self._busy.add(worker)
            try:
                reply = await self._run(worker, spec, event, request_id, trigger_id)
            except BaseException:
                self._busy.discard(worker)
                await worker.stop()
                raise
            self._busy.discard(worker)
            idle.append(worker)
        if "error" in reply:
            error = reply["error"]
            raise InvocationError(
                function, "Handled", f"{error['errorType']}: {error['errorMessage']}"
            )
        return reply.get("result")

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
        log.info(
            "[%s] START RequestId: %s Version: $LATEST%s",
            spec.name,
            request_id,
            f" (API Gateway request {trigger_id})" if trigger_id else "",
        )
        request = {"requestId": request_id, "deadlineMs": deadline_ms, "event": event}
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), timeout=spec.timeout)
        except TimeoutError:
            log.info(
                "[%s] %s Task timed out after %.2f seconds",
                spec.name,
                request_id,
                spec.timeout,
            )
            raise InvocationError(
                spec.name, "Timeout", f"timed out after {spec.timeout} s"
            ) from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise InvocationError(spec.name, "Crash", "the worker process exited") from exc
        except ValueError as exc:  # asyncio's line limit: the result is far too large
            raise InvocationError(spec.name, "ResponseTooLarge", "over 6 MB") from exc
        finally:
            duration = (time.monotonic() - started) * 1000
            log.info("[%s] END RequestId: %s", spec.name, request_id)
            log.info(
                "[%s] REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\t"
                "Memory Size: %d MB\tMax Memory Used: %d MB",
                spec.name,
                request_id,
                duration,
                int(duration) + 1,
                spec.memory,
                worker.peak_memory_mb(),
            )
        if not line:
            raise InvocationError(spec.name, "Crash", "the worker process exited")
        if len(line) > RESULT_LIMIT:
            raise InvocationError(spec.name, "ResponseTooLarge", f"{len(line)} bytes; over 6 MB")
        return dict(json.loads(line))

    async def close(self) -> None:
        workers = [w for pool in self._idle.values() for w in pool] + list(self._busy)
        for pool in self._idle.values():
            pool.clear()
        for worker in workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
