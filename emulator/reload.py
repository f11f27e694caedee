"""Hot reload (``serve --watch``): apply edits to a running stack; sockets stay open.

A :class:`Watcher` watches, with ``watchfiles``, what a stack is made of: the template
(or the module of a Python stack), each function's code folder and its
``requirements.txt``, the shared source folder and the website's files. A change to
code redeploys: only the packages whose files changed are rebuilt and updated in the
control plane, and only those functions get fresh workers for their next invocation.
A change to the definition reads the stack again and deploys the difference (new
routes, new tables, changed settings) in place; what can't change in place is
explained in one line, and the running stack keeps serving.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from watchfiles import DefaultFilter, awatch

from emulator.harness import Harness, Reloaded, ReloadError
from emulator.stack import Stack, StackError

log = logging.getLogger("emulator.reload")
DEBOUNCE_MS = 300  # edits closer together than this are applied as one
IDLE_TICK_MS = 500  # how often an idle watch checks for Ctrl-C
WATCHING = "Watching the code and the stack's definition: edits apply as you save."


@dataclass
class StackSource:
    """Where a stack comes from, so that it can be read again after an edit."""

    read: Callable[[], Stack]
    definition: list[Path] = field(default_factory=list)  # files that define the stack

    @classmethod
    def python(cls, module_name: str, attribute: str) -> StackSource:
        """A Stack held by a module attribute; the module is re-imported on change."""

        def read() -> Stack:
            module = importlib.reload(importlib.import_module(module_name))
            stack = getattr(module, attribute)
            if not isinstance(stack, Stack):
                raise StackError(f"{module_name}:{attribute} is no longer an emulator Stack")
            return stack

        module = importlib.import_module(module_name)
        files = [Path(module.__file__)] if module.__file__ else []
        return cls(read, files)


def watched_paths(stack: Stack, source: StackSource) -> list[Path]:
    """Every file and folder whose change matters to a running stack."""
    paths = {*source.definition}
    for function in stack.all_functions:
        if function.code is not None:
            paths.add(function.code)
    if stack.source is not None:
        paths.add(stack.source)
    if stack.website is not None:
        paths.add(stack.website.directory)
    return sorted(p for p in paths if p.exists())


def _shown(paths: Iterable[Path]) -> str:
    """Changed files by their short names: ``rooms.py, requirements.txt``."""
    names = sorted({p.name for p in paths})
    text = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return text or "files"


def describe(reloaded: Reloaded) -> str:
    """One line for what a redeploy changed."""
    parts = [f"updated {name}" for name in reloaded.functions]
    parts += [
        f"{action} {kind} {name}"
        for action, kind, name in reloaded.changes
        if kind not in ("function", "client file", "permission", "integration")
    ]
    if any(kind == "client file" for _, kind, _ in reloaded.changes):
        parts.append("website files updated")
    return "; ".join(parts) or "nothing to change"


class Watcher:
    """Applies edits to ``harness``'s stack as they happen; prints one line per change."""

    def __init__(self, harness: Harness, source: StackSource, out: TextIO) -> None:
        self.harness = harness
        self.source = source
        self.out = out

    def _say(self, text: str) -> None:
        print(f"  ↻ {text}", file=self.out, flush=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set; the watched set follows the stack as it changes.

        Says once that it is watching, when the first (empty) batch shows the watch is
        in place: an edit saved after that line is never missed.
        """
        announced = False
        while not stop.is_set():
            paths = watched_paths(self.harness.stack, self.source)
            async for changes in awatch(
                *paths,
                watch_filter=DefaultFilter(),
                stop_event=stop,
                debounce=DEBOUNCE_MS,
                rust_timeout=IDLE_TICK_MS,
                yield_on_timeout=True,
            ):
                if not announced:
                    print(WATCHING, file=self.out, flush=True)
                    announced = True
                if not changes:
                    continue
                await self.apply({Path(path) for _, path in changes})
                if watched_paths(self.harness.stack, self.source) != paths:
                    break  # new code folders to watch: start over with them

    async def apply(self, changed: set[Path]) -> None:
        """Redeploy for these changed files; a failure is one line, and changes nothing."""
        what = _shown(changed)
        definition_changed = any(path in self.source.definition for path in changed)
        try:
            stack = self.source.read() if definition_changed else None
            reloaded = await self.harness.redeploy(stack)
        except (ReloadError, ValueError, ImportError, SyntaxError) as exc:  # StackError too
            self._say(f"{what} changed, not applied: {exc}")
            return
        self._say(f"{what} changed: {describe(reloaded)}")
