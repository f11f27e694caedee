"""The Python the bounds run the handler's boto3 calls on: the one ours runs the handler on.

The bench's template names the handler's runtime (``python3.12``). Our emulator runs
such a function on a Python 3.12 it finds on the machine, with boto3 and botocore as it
installs them for that version, or on its own interpreter with its own boto3 when it
finds none (:meth:`emulator.launch.Launcher.plan` decides; this asks it). A bound is
"the same handler in-process", so its client (:mod:`bench.bound_client`) runs there
too: boto3 on 3.11 spends about 7% less CPU per post than on 3.12, a gap the bound
would otherwise credit to the emulator. Like a worker, it starts with ``-S``: nothing
from that interpreter's own site-packages, boto3 from the runtime's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench import processes
from bench.workload import TEMPLATE
from emulator import interpreters, runtimes, template_file
from emulator.interpreters import Pythons
from emulator.launch import Launcher, Plan
from emulator.runner import runtime_library


@dataclass(frozen=True)
class BoundPython:
    """An interpreter and the folder its boto3 comes from; ``label`` says which, for the
    report."""

    executable: Path
    library: Path
    label: str

    def command(self, module: str, *args: str) -> list[str]:
        return [str(self.executable), "-S", "-m", module, *args]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The bench's environment, with the runtime's folder and the bench on the path."""
        path = f"{self.library}{os.pathsep}{processes.ROOT}"
        return processes.python_env({"PYTHONPATH": path, **(extra or {})})


def handler_runtime() -> str:
    """The ``Runtime`` the template gives its functions (``Globals``)."""
    return str(template_file.decode(TEMPLATE)["Globals"]["Function"]["Runtime"])


def choose(runtime: str, plan: Plan, own_library: Path) -> BoundPython:
    """The bound's interpreter, from the emulator's ``plan`` for ``runtime``: the Python it
    found for it, or the bench's own (with ``own_library``) when it found none."""
    wanted = runtimes.parse(runtime).version[:2]
    python, library = plan.python, plan.python_library
    if python is None or library is None:  # not a Python runtime: not the bench's
        python, library = interpreters.current(), own_library
    if python.minor == wanted:
        how = f"the Python ours runs {runtime} on"
    else:
        how = f"the bench's own: no Python {'.'.join(map(str, wanted))} found for {runtime}"
    return BoundPython(python.executable, library, f"Python {python.label} ({how})")


def find(workdir: Path, pythons: Pythons | None = None) -> BoundPython:
    """The interpreter our emulator would run the bench's handler on, as it would."""
    runtime = handler_runtime()
    own_library = runtime_library(workdir / "runtime")
    plan = Launcher({}, own_library, pythons=pythons).plan(runtime)
    return choose(runtime, plan, own_library)
