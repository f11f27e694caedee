"""Modules run later than imported (:func:`on_first_use`), or followed by our own work
once they have run (:func:`after_import`).

moto's IAM imports ``cryptography.x509`` when it is imported, for the server and
signing certificates a stack never uploads, and that loads ``cryptography``'s Rust
extension: about 8 MB of memory and 17 ms in every process that deploys a role, which
is every stack with a function. Registered with :func:`on_first_use` first, the module
is there to import and to name, and its code runs the first time one of its
attributes is asked for.

The standard library's ``importlib.util.LazyLoader`` does the same, but before Python
3.12 two threads touching the module at once could see it half-run; the emulator's
control plane answers on threads, so here the first use runs it under a lock and any
other thread waits for it.

:func:`after_import` is the other half: work that needs a module, done the moment the
module has run, whoever imports it and whenever (moto's KMS, :mod:`emulator.moto_kms`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

_LOCK = threading.RLock()


class _NotYetRun(types.ModuleType):
    """A module whose code has not run: asking for what it would define runs it."""

    def __getattr__(self, name: str) -> Any:  # only for what the module doesn't have yet
        with _LOCK:
            if isinstance(self, _NotYetRun) and not self.__dict__.get("_running"):
                self._running = True
                try:
                    self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
                    self.__class__ = types.ModuleType  # type: ignore[assignment]  # ordinary now
                except BaseException:
                    sys.modules.pop(self.__name__, None)  # as a failed import leaves it
                    raise
                finally:
                    del self.__dict__["_running"]
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def on_first_use(name: str) -> None:
    """Register module ``name`` (its package imported now) to run when first used; a
    module already imported, or one that can't be found, is left as it is."""
    with _LOCK:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _NotYetRun
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


class _Then(importlib.abc.MetaPathFinder):
    """Finds ``name`` as the finders after it would, and has its loader call ``then``
    with the module once the module's code has run."""

    def __init__(self, name: str, then: Callable[[types.ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            run(module)
            self.then(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's own loader
        return spec


def after_import(name: str, then: Callable[[types.ModuleType], None]) -> None:
    """Call ``then(module)`` as soon as module ``name`` has run (now, if it has)."""
    with _LOCK:
        if name not in sys.modules:
            sys.meta_path.insert(0, _Then(name, then))
            return
    # Imported, or being imported on another thread: importing it again waits until its
    # code has run (the import system's lock for the module), not calling back half-way.
    then(importlib.import_module(name))
