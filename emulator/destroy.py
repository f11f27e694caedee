"""Remove everything deploy created for one stack, in dependency order; safe to repeat.

Each step reports ``deleted`` or ``absent``. Only resources the stack names, for its
prefix and region, and tagged as its own, are touched (:mod:`emulator.deploy.sweeper`).
The chat's command line is ``scripts/destroy.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.deploy import Options, Report
from emulator.deploy.executor import Context
from emulator.deploy.models import ABSENT, DELETED
from emulator.deploy.sweeper import sweep
from emulator.stack import Stack
from emulator.targets import Target

__all__ = ["ABSENT", "DELETED", "Destroyer"]


class Destroyer:
    """Undoes :meth:`emulator.deploy.Deployer.deploy`."""

    def __init__(
        self,
        stack: Stack,
        target: Target,
        report: Report | None = None,
        options: Options | None = None,
        clients: Callable[[str], Any] | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.report = report or Report()
        self.context = Context(
            stack, target, options or Options(), self.report, dry_run=False, clients=clients
        )

    def destroy(self) -> None:
        """Remove the stack; raises ForeignResources after removing the rest, if any."""
        sweep(self.context)
