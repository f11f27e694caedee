"""The ``websocket_api`` fixture's harnesses, shared between the tests that ask for the
same stack for as long as their isolation says (a test, a module, the session)."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.plugin_spec import ApiSpec, SpecError, import_stack

# The harness (moto, boto3) is imported when a test first asks for it, not when pytest
# loads the plugin: every pytest run of a project that has the package installed does.
if TYPE_CHECKING:
    from emulator.controlplane import ControlPlane
    from emulator.fresh import Fresh
    from emulator.harness import BackgroundHarness, Harness


@dataclass
class _Running:
    background: BackgroundHarness
    workdir: tempfile.TemporaryDirectory[str]
    tables: dict[str, str]  # a template's tables by logical id
    destroy: bool  # whether to remove the stack first: its control plane outlives the session
    fresh: Fresh | None = None  # the stack right after deploy, to go back to between scopes

    @property
    def harness(self) -> Harness:
        return self.background.harness

    def take_fresh(self) -> None:
        from emulator.fresh import Fresh

        self.fresh = Fresh.take(self.harness)

    def restore(self) -> None:
        """Back to the moment after deploy (connections closed, workers stopped, data)."""
        assert self.fresh is not None
        self.background.call(self.fresh.restore(self.harness))

    def stop(self) -> None:
        from emulator.deploy import Report
        from emulator.destroy import Destroyer

        try:
            if self.destroy and self.harness.target is not None:
                Destroyer(self.harness.stack, self.harness.target, Report(out=None)).destroy()
        finally:
            try:
                self.background.__exit__()
            finally:
                self.workdir.cleanup()


class HarnessPool:
    """The session's harnesses by configuration and scope.

    With no ``control_plane_url``, all run on one embedded moto server, each in an
    account of its own, and a stack is deployed once per session for each isolation
    that asks for it: ``session`` keeps one harness for all its tests; ``test`` and
    ``module`` take a harness, and give it back at the end of their scope, put back as
    it was right after deploy (:mod:`emulator.fresh`), for the next scope to take.
    With a ``control_plane_url`` (LocalStack's), each scope deploys a stack with names
    of its own there, destroyed when its scope ends.
    """

    def __init__(self, control_plane_url: str | None = None) -> None:
        self.control_plane_url = control_plane_url
        self._control_plane: ControlPlane | None = None
        self._running: dict[tuple[Any, ...], _Running] = {}
        self._free: dict[tuple[Any, ...], list[_Running]] = {}  # fresh harnesses, by stack
        self._failed: dict[tuple[Any, ...], str] = {}
        self.deploys = 0  # how many stacks this pool deployed

    def control_plane(self) -> ControlPlane:
        from emulator.controlplane import ControlPlane

        if self._control_plane is None:
            self._control_plane = ControlPlane()
            self._control_plane.start()
        return self._control_plane

    def _reuses(self, spec: ApiSpec) -> bool:
        """Whether ``spec``'s scopes share a harness restored between them."""
        return spec.isolation != "session" and self.control_plane_url is None

    def get(self, spec: ApiSpec, scope: str) -> tuple[_Running, bool]:
        """The harness for ``spec`` in ``scope`` (a node id), and whether the scope is new."""
        key = (spec.harness_key, scope)
        reuses = self._reuses(spec)
        failed = self._failed.get((spec.harness_key, "fresh") if reuses else key)
        if failed is not None:
            raise SpecError(failed)
        if key in self._running:
            return self._running[key], False
        free = self._free.get(spec.harness_key) if reuses else None
        if free:
            self._running[key] = free.pop()
            return self._running[key], True
        try:
            running = self._start(spec)
            if reuses:
                try:
                    running.take_fresh()
                except BaseException:
                    running.stop()
                    raise
        except Exception as exc:
            message = f"{spec.describe}: {type(exc).__name__}: {exc}"
            self._failed[(spec.harness_key, "fresh") if reuses else key] = message
            raise SpecError(message) from exc
        self.deploys += 1
        self._running[key] = running
        return running, True

    def stop(self, spec: ApiSpec, scope: str) -> None:
        """The end of ``scope``: its harness is restored for the next one, or stopped."""
        running = self._running.pop((spec.harness_key, scope), None)
        if running is None:
            return
        if running.fresh is None:
            running.stop()
            return
        try:
            running.restore()
        except BaseException:
            running.stop()  # a harness not put back is not taken again
            raise
        self._free.setdefault(spec.harness_key, []).append(running)

    def _start(self, spec: ApiSpec) -> _Running:
        from emulator.controlplane import new_account_id
        from emulator.harness import BackgroundHarness
        from emulator.harness_settings import HarnessSettings
        from emulator.stack import DEFAULT_REGION
        from emulator.template import default_stack_name, load

        shared = self.control_plane_url is not None  # names must not meet others' there
        workdir = tempfile.TemporaryDirectory(prefix="ws-emulator-pytest-")
        try:
            account_id = new_account_id()
            source = spec.source
            tables: dict[str, str] = {}
            if isinstance(source, Path):
                loaded = load(
                    source,
                    parameters=dict(spec.parameters),
                    stage=spec.stage,
                    region=spec.region or DEFAULT_REGION,
                    account_id=account_id,
                    stack_name=f"{default_stack_name(source)[:48]}-{secrets.token_hex(3)}"
                    if shared
                    else None,
                    work_dir=Path(workdir.name),
                )
                stack, tables = loaded.stack, loaded.tables
            else:
                if spec.parameters:
                    raise SpecError("parameters are for templates; a Python stack takes none")
                stack = import_stack(source) if isinstance(source, str) else source
                if spec.stage:
                    stack = replace(stack, stage=spec.stage)
                if spec.region:
                    stack = replace(stack, region=spec.region)
                if shared and not stack.prefix:
                    stack = replace(stack, prefix=f"t{secrets.token_hex(3)}")
            settings = HarnessSettings(
                stack=stack,
                account_id=account_id,
                outputs_path=Path(workdir.name) / "outputs.json",
                control_plane_url=self.control_plane_url,
            )
            background = BackgroundHarness(
                settings, control_plane=None if shared else self.control_plane()
            )
            background.__enter__()
        except BaseException:
            workdir.cleanup()
            raise
        return _Running(background, workdir, tables, destroy=shared)

    def close(self) -> None:
        try:
            while self._running:
                _, running = self._running.popitem()
                running.stop()
            while self._free:
                _, free = self._free.popitem()
                while free:
                    free.pop().stop()
        finally:
            if self._control_plane is not None:
                self._control_plane.stop()
