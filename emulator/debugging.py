"""Breakpoints in handlers: ``serve --debug-port 5678 [--debug-function NAME …]``.

The chosen functions (without ``--debug-function``, every Python and Node.js function)
listen for a debugger on 127.0.0.1: the first function on the given port, the next on
the port after it, and so on. A Python function's worker runs under debugpy
(:mod:`emulator.debuggee`), for VS Code, PyCharm or any DAP client; a Node.js function's
runs ``node --inspect``, for VS Code, Chrome DevTools or any Chrome DevTools Protocol
client. Each debugged function has one worker (concurrency 1, so a breakpoint is hit by
the one invocation you expect), started at once and never retired for idling. While it
is stopped in the debugger its invocation's timeout is suspended, as SAM CLI does when
debugging (a Node.js worker's pauses are heard by the runner's own inspector session,
:mod:`emulator.node_debug`). Custom runtimes aren't debugged.

A debugged worker runs its code from a path that stays the same across reloads and
restarts: ``<debug root>/<port>/<the code's path relative to the project>``, a link to
the folder the function's package was unpacked in. The attach configuration maps that
path back to the source (:func:`launch_json`), so breakpoints set in the source bind;
after a ``--watch`` reload the new worker listens on the same port with the same paths,
and the debugger attaches again with the same configuration.

debugpy is an optional extra of the package (``pip install ws-emulator[debug]``); it
isn't needed to debug Node.js functions.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import runtimes

if TYPE_CHECKING:  # the runner imports this module; these import the runner
    from emulator.api import ApiConfig
    from emulator.stack import Stack

LOOPBACK = "127.0.0.1"
DEBUGGABLE = (runtimes.PYTHON, runtimes.NODEJS)  # runtime families a debugger attaches to


class DebugError(Exception):
    """Debugging can't be set up as asked; the message says why and what to do."""


def default_root() -> Path:
    """Where debugged workers' stable code paths live (``XDG_CACHE_HOME`` honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ws-emulator" / "debug"


@dataclass(frozen=True)
class DebugSettings:
    """``--debug-port`` and ``--debug-function``: which functions, from which port."""

    port: int
    functions: tuple[str, ...] = ()  # logical ids, route keys or deployed names; () = all
    root: Path | None = None  # None: default_root()
    project: Path | None = None  # paths under it keep their place; None: the working folder


@dataclass(frozen=True)
class DebugTarget:
    """One debugged function: where its debugger attaches and what maps to what."""

    function: str  # the deployed name
    label: str  # the name the user knows it by (a logical id)
    port: int
    task_root: Path  # the stable path its worker runs the code from (a link)
    local_root: Path | None  # the function's source, if known
    debugpy: Path | None  # a folder holding only a link to debugpy (a Python function)
    host: str = LOOPBACK
    family: str = runtimes.PYTHON  # or runtimes.NODEJS: node --inspect

    def worker_args(self) -> list[str]:
        """The Python worker's arguments: debugpy listening."""
        return ["--debug", f"{self.host}:{self.port}", "--debugpy", str(self.debugpy)]

    def node_args(self) -> list[str]:
        """node's options: the inspector listening, and modules keeping the stable path
        (not their real one) so that the attach configuration's mapping holds."""
        return [f"--inspect={self.host}:{self.port}", "--preserve-symlinks"]

    def point_at(self, code_dir: Path) -> None:
        """Make the stable path lead to this code (atomically: a worker may be reading)."""
        self.task_root.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.task_root.with_name(f".{self.task_root.name}.{os.getpid()}")
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        temporary.symlink_to(code_dir.resolve(), target_is_directory=True)
        os.replace(temporary, self.task_root)

    def configuration(self) -> dict[str, Any]:
        """The VS Code ``launch.json`` configuration that attaches to it."""
        mapping = {
            "localRoot": str(self.local_root or self.task_root),
            "remoteRoot": str(self.task_root),
        }
        if self.family == runtimes.NODEJS:
            return {
                "name": f"Attach to {self.label}",
                "type": "node",
                "request": "attach",
                "address": self.host,
                "port": self.port,
                **mapping,
                "skipFiles": ["<node_internals>/**"],
            }
        return {
            "name": f"Attach to {self.label}",
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": self.host, "port": self.port},
            "pathMappings": [mapping],
            "justMyCode": True,
        }


def debugpy_folder(directory: Path) -> Path:
    """A folder from which only debugpy can be imported (a link to the installed one)."""
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise DebugError(
            "--debug-port needs debugpy: pip install 'ws-emulator[debug]' (or pip install debugpy)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "debugpy"
    if not link.exists():
        link.symlink_to(Path(spec.submodule_search_locations[0]), target_is_directory=True)
    return directory


def resolve_functions(
    wanted: Iterable[str],
    by_label: Mapping[str, str],
    routes: Mapping[str, str],
    deployed: Iterable[str],
) -> list[str]:
    """Deployed names for names given as logical ids, route keys or deployed names.

    ``by_label`` maps a logical id to its deployed name, ``routes`` a route key to its
    function's. Nothing wanted means every deployed function, in ``deployed``'s order.
    """
    names = list(deployed)
    wanted = list(wanted)
    if not wanted:
        return names
    chosen: list[str] = []
    for name in wanted:
        found = by_label.get(name) or routes.get(name) or (name if name in names else None)
        if found is None or found not in names:
            known = ", ".join(sorted(by_label) or names)
            raise DebugError(f"--debug-function {name}: no such function; the stack has {known}")
        if found not in chosen:
            chosen.append(found)
    return chosen


def debuggable_functions(
    wanted: Iterable[str],
    by_label: Mapping[str, str],
    routes: Mapping[str, str],
    runtime_of: Mapping[str, str],
    refused: Mapping[str, str] | None = None,
) -> list[str]:
    """:func:`resolve_functions` among the deployed functions (``runtime_of``: each one's
    ``Runtime``, in order; ``refused``: why those that don't run here don't). Nothing
    wanted means every Python and Node.js function that runs; a function of another
    runtime, or one that doesn't run here, named is a DebugError."""
    wanted = list(wanted)
    refused = refused or {}
    families = {name: runtimes.parse(runtime).family for name, runtime in runtime_of.items()}
    deployed = [n for n in runtime_of if wanted or (families[n] in DEBUGGABLE and n not in refused)]
    chosen = resolve_functions(wanted, by_label, routes, deployed)
    for name in chosen:
        if families[name] not in DEBUGGABLE:
            raise DebugError(
                f"--debug-function {name}: a {runtime_of[name]} function can't be debugged "
                "here (Python and Node.js functions can)"
            )
        if name in refused:
            raise DebugError(f"--debug-function {name}: it doesn't run here: {refused[name]}")
    return chosen


def stable_path(root: Path, port: int, source: Path | None, project: Path) -> Path:
    """``<root>/<port>/<source relative to the project>`` (or the source's own name)."""
    if source is None:
        return root / str(port) / "code"
    source = source.resolve()
    try:
        relative = source.relative_to(project.resolve())
    except ValueError:
        relative = Path(source.name)
    return root / str(port) / (relative if str(relative) != "." else Path("code"))


def check_port_free(port: int, host: str = LOOPBACK) -> None:
    """DebugError if something already listens on the port a debugger should attach to."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise DebugError(
            f"--debug-port: {host}:{port} is in use ({exc.strerror}); choose another port"
        ) from None
    finally:
        probe.close()


def check_names(settings: DebugSettings, stack: Stack) -> None:
    """DebugError now, before deploying, for a ``--debug-function`` the stack hasn't."""
    functions = stack.all_functions
    resolve_functions(
        settings.functions,
        {f.name: stack.function_name(f) for f in functions},
        {route.key: stack.function_name(f) for f in functions for route in f.routes},
        [stack.function_name(f) for f in functions],
    )


def targets_for(
    settings: DebugSettings,
    stack: Stack,
    api: ApiConfig,
    workdir: Path,
    refused: Mapping[str, str] | None = None,
) -> list[DebugTarget]:
    """The debugged functions of a served stack, each with its port and paths;
    ``refused`` says why functions that don't run here don't (by deployed name).

    Raises DebugError for an unknown name, a port in use, or no debugpy.
    """
    labels = {stack.function_name(f): f for f in stack.all_functions}
    deployed = [name for name in labels if name in api.functions]
    deployed += [name for name in api.functions if name not in labels]
    runtime_of = {name: api.functions[name].runtime for name in deployed}
    chosen = debuggable_functions(
        settings.functions,
        {f.name: name for name, f in labels.items()},
        {key: route.function for key, route in api.routes.items()},
        runtime_of,
        refused,
    )
    families = {name: runtimes.parse(runtime_of[name]).family for name in chosen}
    python = any(families[name] == runtimes.PYTHON for name in chosen)
    debugpy = debugpy_folder(workdir / "debugpy") if python else None
    root = settings.root or default_root()
    project = settings.project or Path.cwd()
    targets = []
    for offset, name in enumerate(chosen):
        port = settings.port + offset
        check_port_free(port)
        function = labels.get(name)
        source = (function.code or stack.source) if function is not None else None
        targets.append(
            DebugTarget(
                function=name,
                label=function.name if function is not None else name,
                port=port,
                task_root=stable_path(root, port, source, project),
                local_root=source.resolve() if source is not None else None,
                debugpy=debugpy if families[name] == runtimes.PYTHON else None,
                family=families[name] or runtimes.PYTHON,
            )
        )
    return targets


def banner_lines(targets: Sequence[DebugTarget]) -> list[str]:
    """``serve``'s lines: where each debugged function listens, how to attach, and the
    ``launch.json``."""
    lines = []
    for index, target in enumerate(targets):
        title = "  Debugger        " if index == 0 else "                  "
        lines.append(f"{title}{target.host}:{target.port}  {target.label} ({target.function})")
    lines.append(
        "                  VS Code: this .vscode/launch.json (breakpoints in your source bind);"
    )
    if any(t.family == runtimes.PYTHON for t in targets):
        lines.append(
            "                  PyCharm: Attach to DAP at that address; see emulator/README.md"
        )
    if any(t.family == runtimes.NODEJS for t in targets):
        lines.append(
            "                  Node.js: Chrome's chrome://inspect (Configure… that address), "
            "or any CDP client"
        )
    return [*lines, launch_json(targets)]


def launch_json(targets: Iterable[DebugTarget]) -> str:
    """A ``.vscode/launch.json`` with one attach configuration per debugged function
    (and a compound attaching to all of them when there are several), one per line."""
    configurations = [t.configuration() for t in targets]
    lines = ["{", '  "version": "0.2.0",', '  "configurations": [']
    lines += [
        f"    {json.dumps(c)}{',' if i < len(configurations) - 1 else ''}"
        for i, c in enumerate(configurations)
    ]
    if len(configurations) > 1:
        names = [c["name"] for c in configurations]
        compound = {"name": "Attach to every function", "configurations": names}
        lines += ["  ],", f'  "compounds": [{json.dumps(compound)}]', "}"]
    else:
        lines += ["  ]", "}"]
    return "\n".join(lines)


async def result_line(stdout: asyncio.StreamReader, timeout: float) -> bytes:
    """A debugged worker's result line; its timeout runs only while it isn't stopped.

    The worker says ``{"debugger": "stopped"}`` and ``{"debugger": "running"}`` between
    its request and its result. Raises TimeoutError as ``asyncio.wait_for`` would.
    """
    loop = asyncio.get_running_loop()
    left = float(timeout)
    stopped = False
    while True:
        started = loop.time()
        if stopped:
            line = await stdout.readline()
        else:
            line = await asyncio.wait_for(stdout.readline(), timeout=max(left, 0))
            left -= loop.time() - started
        if not line.startswith(b'{"debugger":'):
            return line
        stopped = json.loads(line)["debugger"] == "stopped"
