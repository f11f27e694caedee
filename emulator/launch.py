"""How each function's workers start: which runtime, on which interpreter, with what.

:class:`Launcher` reads each function's ``Runtime`` (:mod:`emulator.runtimes`) once,
finds what runs it (:mod:`emulator.interpreters`, :mod:`emulator.nodejs`), installs
what that needs once (boto3/botocore for another Python, the AWS SDK for JavaScript
for Node.js), and says in one line each what differs from Lambda: a fallback
interpreter, a deprecated runtime, a runtime not run here. Then :meth:`Launcher.start`
starts a worker for a function:

- Python: forked from the preloaded template process of its interpreter (one per
  interpreter), or, where forking isn't possible or the code bundles its own boto3,
  started on its own.
- Node.js: the machine's ``node`` running our runtime client, with the Runtime API.
- Custom runtimes: the function's ``bootstrap``, with the Runtime API.

A function run under a debugger (``serve --debug-port``, :mod:`emulator.debugging`) runs
its code from a stable path: a Python one is never forked (its worker starts on its own,
under debugpy), a Node.js one runs ``node --inspect``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from emulator import interpreters, nodejs, runtimes
from emulator.debugging import DebugTarget
from emulator.forking import PROCESS_ENV, STREAM_LIMIT, Template, can_fork
from emulator.functions import FunctionLogs, FunctionSpec
from emulator.interpreters import InterpreterError, Python, Pythons
from emulator.node_debug import PauseWatch
from emulator.nodejs import Node, NodeError
from emulator.workers import ApiWorker, PythonWorker, Worker, WorkerFailure

log = logging.getLogger("emulator.runtimes")

WORKER_SCRIPT = Path(__file__).with_name("worker.py")


@dataclass(frozen=True)
class Plan:
    """How a runtime's functions run here; ``refused`` says why they don't."""

    runtime: str
    family: str | None
    python: Python | None = None
    python_library: Path | None = None  # boto3 and botocore for that Python
    node: Node | None = None
    sdk: Path | None = None  # the AWS SDK for JavaScript's node_modules
    refused: str | None = None


class Launcher:
    """Starts workers; ``library`` is boto3/botocore for the emulator's own interpreter.

    ``pythons`` are interpreters given by hand (``{"3.12": path}``), or a
    :class:`~emulator.interpreters.Pythons` that may have found some already; ``resolve`` maps
    hostnames to the local ``(address, port)`` that serves them, inside workers only.
    """

    def __init__(
        self,
        runtime_env: Mapping[str, str],
        library: Path,
        resolve: Mapping[str, tuple[str, int]] | None = None,
        pythons: Mapping[str, Path] | Pythons | None = None,
        fork: bool = True,
    ) -> None:
        self._runtime_env = dict(runtime_env)
        self._library = library
        self._resolve = dict(resolve or {})
        self._pythons = pythons if isinstance(pythons, Pythons) else Pythons(pythons)
        self._fork = fork and can_fork()
        self._plans: dict[str, Plan] = {}
        self._templates: dict[Path, Template] = {}
        self._refused: set[str] = set()  # functions already named as not run
        self.debugged: dict[str, DebugTarget] = {}  # functions run under a debugger

    # --- what runs each runtime ----------------------------------------------------

    def prepare(self, specs: Iterable[FunctionSpec]) -> None:
        """Plan every runtime these functions use; say what differs, once each."""
        for spec in specs:
            plan = self.plan(spec.runtime)
            if plan.refused is not None and spec.name not in self._refused:
                self._refused.add(spec.name)
                log.warning(
                    "  note: function %s: %s; its invocations fail, the rest of the stack serves",
                    spec.name,
                    plan.refused,
                )

    def plan(self, runtime: str) -> Plan:
        if runtime not in self._plans:
            plan = self._plan(runtimes.parse(runtime))
            self._plans[runtime] = plan
            status = runtimes.status(runtime)
            if status is not None and plan.refused is None:
                log.warning("  note: %s", status)
        return self._plans[runtime]

    def _plan(self, runtime: runtimes.Runtime) -> Plan:
        if runtime.family == runtimes.PYTHON:
            return self._plan_python(runtime)
        if runtime.family == runtimes.NODEJS:
            return self._plan_node(runtime)
        if runtime.family == runtimes.PROVIDED:
            return Plan(runtime.name, runtime.family)
        return Plan(runtime.name, None, refused=runtimes.refusal_reason(runtime.name))

    def _plan_python(self, runtime: runtimes.Runtime) -> Plan:
        own = interpreters.current()
        minor = (runtime.version[0], runtime.version[1])
        label = f"{minor[0]}.{minor[1]}"
        found = self._pythons.find(minor)
        reason = f"no Python {label} on PATH, in pyenv or uv (--python {label}=PATH gives one)"
        if found is not None and found.executable != own.executable:
            try:
                library = interpreters.install_sdk(found)
            except InterpreterError as exc:
                found, reason = None, str(exc)
            else:
                return Plan(runtime.name, runtimes.PYTHON, found, library)
        if found is None:
            log.warning(
                "  note: %s functions run on Python %s, the emulator's own: %s",
                runtime.name,
                own.label,
                reason,
            )
        return Plan(runtime.name, runtimes.PYTHON, own, self._library)

    def _plan_node(self, runtime: runtimes.Runtime) -> Plan:
        node = nodejs.find_node()
        if node is None:
            return Plan(
                runtime.name, None, refused=f"{runtime.name} needs Node.js: no node on PATH"
            )
        try:
            sdk = nodejs.install_sdk()
        except (NodeError, OSError) as exc:
            return Plan(runtime.name, None, refused=str(exc))
        if node.major != runtime.version[0]:
            log.warning(
                "  note: %s functions run on Node.js %s, this machine's node",
                runtime.name,
                node.version,
            )
        return Plan(runtime.name, runtimes.NODEJS, node=node, sdk=sdk)

    # --- starting workers -------------------------------------------------------------

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
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "_HANDLER": spec.handler,
                "_INVOKED_FUNCTION_ARN": spec.arn,
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                **PROCESS_ENV,
            }
        )
        if not spec.runtime.startswith(runtimes.PROVIDED):
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
        return env

    def refused(self, spec: FunctionSpec) -> str | None:
        """Why ``spec``'s function doesn't run here, or None when it does."""
        return self.plan(spec.runtime).refused

    async def start(self, spec: FunctionSpec, logs: FunctionLogs) -> Worker:
        """A new worker for ``spec``; raises WorkerFailure when it can't start."""
        plan = self.plan(spec.runtime)
        env = self.environment(spec)
        if plan.family == runtimes.NODEJS:
            assert plan.node is not None
            assert plan.sdk is not None
            nodejs.link_sdk(spec.code_dir, plan.sdk)
            ca = self._runtime_env.get("AWS_CA_BUNDLE")
            if ca:
                env["NODE_EXTRA_CA_CERTS"] = ca
            node = [str(plan.node.executable)]
            cwd = spec.code_dir
            debugged = self.debugged.get(spec.name)
            if debugged is not None:  # the inspector listening, the code at its stable path
                debugged.point_at(spec.code_dir)
                nodejs.link_sdk(debugged.task_root, plan.sdk)
                node += debugged.node_args()
                cwd = debugged.task_root
                env["LAMBDA_TASK_ROOT"] = str(debugged.task_root)
            command = [*node, str(nodejs.RUNTIME_CLIENT), *self._resolving()]
            worker = await ApiWorker.start(command, spec, env, logs, cwd)
            if debugged is not None:
                worker.watch = PauseWatch(debugged.host, debugged.port)
                worker.watch.start()
            return worker
        if plan.family == runtimes.PROVIDED:
            bootstrap = spec.code_dir / "bootstrap"
            if not bootstrap.is_file():
                raise WorkerFailure(
                    "Crash",
                    f"Runtime.InvalidEntrypoint: Couldn't find valid bootstrap(s): [{bootstrap}]",
                )
            return await ApiWorker.start([str(bootstrap)], spec, env, logs)
        assert plan.python is not None
        assert plan.python_library is not None
        return await self._start_python(spec, plan.python, plan.python_library, env, logs)

    def _resolving(self) -> list[str]:
        arguments: list[str] = []
        for host, (address, port) in self._resolve.items():
            arguments += ["--resolve", f"{host}={address}:{port}"]
        return arguments

    def python_command(self, python: Path, library: Path) -> list[str]:
        command = [str(python), "-I", "-S", str(WORKER_SCRIPT), "--runtime", str(library)]
        return command + self._resolving()

    async def _start_python(
        self,
        spec: FunctionSpec,
        python: Python,
        library: Path,
        env: dict[str, str],
        logs: FunctionLogs,
    ) -> Worker:
        command = self.python_command(python.executable, library)
        cwd = spec.code_dir
        debugged = self.debugged.get(spec.name)
        if debugged is not None:  # started on its own, from its stable path, under debugpy
            debugged.point_at(spec.code_dir)
            command[1:1] = ["-X", "frozen_modules=off"]  # or debugpy may miss breakpoints
            command += debugged.worker_args()
            cwd = debugged.task_root
            env["LAMBDA_TASK_ROOT"] = str(debugged.task_root)
        elif self._fork and not _bundles_sdk(spec.code_dir):
            template = self._templates.get(python.executable)
            if template is None:
                template = self._templates[python.executable] = Template(command)
            return PythonWorker(await template.fork(spec.code_dir, env), spec, logs)
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=STREAM_LIMIT,
            start_new_session=True,  # Ctrl-C in the terminal is the emulator's, not theirs
        )
        return PythonWorker(process, spec, logs, debugged=debugged is not None)

    async def close(self) -> None:
        for template in self._templates.values():
            await template.close()
        self._templates.clear()


def _bundles_sdk(code_dir: Path) -> bool:
    """A package with its own boto3 or botocore must not get the template's: exec it."""
    return (code_dir / "boto3").is_dir() or (code_dir / "botocore").is_dir()
