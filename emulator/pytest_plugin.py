"""The pytest plugin: ``def test_chat(websocket_api): …`` runs against your WebSocket API.

Installed with the package (its ``pytest11`` entry point), so a project only says
what to run, in ``pytest.ini`` / ``pyproject.toml``::

    websocket_api_template = template.yaml        # or a Python stack: mypkg.stack:STACK
    websocket_api_parameters = Token=abc Mode=x   # template parameters
    websocket_api_stage = test                    # default: the template's own
    websocket_api_region = eu-west-1              # default: us-east-1
    websocket_api_isolation = session             # test | module | session (default)

and a marker overrides any of these for a test, a class or a module
(``pytestmark``): ``@pytest.mark.websocket_api(template="other.yaml",
isolation="test")``. Relative template paths are taken from the rootdir.

The fixture deploys the stack into the embedded AWS emulator and yields a
:class:`WebSocketApi`: the URL to connect to, boto3 clients for the harness's
account, what deploy made, and each function's log. Tests asking for the same
configuration share one harness for as long as their isolation says: a test, a
module, or the session. Every harness of a session shares one embedded moto server
and deploys into an account of its own; a stack is deployed once, and with ``test``
or ``module`` isolation put back as it was right after deploy at the end of each
scope (connections closed with their ``$disconnect``, workers restarted, tables and
website restored: :mod:`emulator.fresh`), not deployed again (a project that
overrides the ``websocket_api_control_plane_url`` fixture deploys to that LocalStack
instead, per scope). When a test that used the fixture fails,
its report gets a "Captured function logs" section: what each function logged during
that test.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
import shlex
import tempfile
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from emulator.stack import Stack

# The harness (moto, boto3) is imported when a test first asks for it, not when pytest
# loads the plugin: every pytest run of a project that has the package installed does.
if TYPE_CHECKING:
    from emulator.controlplane import ControlPlane
    from emulator.deploy import Outputs
    from emulator.fresh import Fresh
    from emulator.harness import BackgroundHarness, Harness
    from emulator.inspector.record import (
        CallEntry,
        ConnectionEntry,
        FrameEntry,
        InvocationEntry,
        Snapshot,
    )

ISOLATIONS = ("test", "module", "session")
_MARKER_KEYS = ("template", "parameters", "stage", "region", "isolation")
_INI = {
    "template": "a SAM/CloudFormation template (relative to the rootdir) or module:STACK",
    "parameters": "template parameters, Name=Value separated by spaces",
    "stage": "the stage to serve (default: the template's or stack's own)",
    "region": "the region to deploy to (default: us-east-1)",
    "isolation": "how long a harness lives: test, module or session (the default)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for key, help_ in _INI.items():
        name, text = f"websocket_api_{key}", f"websocket_api fixture: {help_}"
        if key == "parameters":
            parser.addini(name, text, type="args", default=[])
        else:
            parser.addini(name, text, type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "websocket_api(template=None, parameters=None, stage=None, region=None, isolation=None):"
        " what the websocket_api fixture runs for these tests, over the websocket_api_* "
        "ini options",
    )


@dataclass(frozen=True)
class ApiSpec:
    """What one test asks the fixture for: the ini options, then markers nearest last."""

    source: Path | str | Stack  # a template, ``module:ATTRIBUTE``, or a Stack
    parameters: tuple[tuple[str, str], ...] = ()
    stage: str | None = None
    region: str | None = None
    isolation: str = "session"

    @property
    def harness_key(self) -> tuple[Any, ...]:
        """Specs with equal keys can share a harness."""
        return (self.source, self.parameters, self.stage, self.region)

    @property
    def describe(self) -> str:
        return self.source.name if isinstance(self.source, Stack) else str(self.source)


class SpecError(Exception):
    """The configuration or a marker asks for something that can't be; says what."""


def _parameters(value: object) -> tuple[tuple[str, str], ...]:
    """``{"Name": "Value"}``, ``["Name=Value", …]`` or ``"Name=Value …"``, as sorted pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    if isinstance(value, str):
        pairs: list[object] = list(shlex.split(value))
    elif isinstance(value, list | tuple):
        pairs = list(value)
    else:
        raise SpecError(f"parameters {value!r}: give a dict or Name=Value strings")
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = str(pair).partition("=")
        if not sep or not name:
            raise SpecError(f"parameter {pair!r}: write Name=Value")
        parsed[name] = text
    return tuple(sorted(parsed.items()))


def _source(value: object, rootdir: Path) -> Path | str | Stack:
    from emulator.cli import TEMPLATE_SUFFIXES

    if isinstance(value, Stack):
        return value
    if isinstance(value, str) and ":" in value and not value.endswith(TEMPLATE_SUFFIXES):
        return value  # a Python stack, imported when its harness starts
    if isinstance(value, str | Path) and str(value):
        return (rootdir / value).resolve()
    raise SpecError(
        "no stack to run: set websocket_api_template in pytest.ini or pyproject.toml, "
        "or mark the test with @pytest.mark.websocket_api(template=...)"
    )


def spec_for(item: pytest.Item) -> ApiSpec:
    """The ini options, overridden by each ``websocket_api`` marker from module to test."""
    config = item.config
    values: dict[str, object] = {key: config.getini(f"websocket_api_{key}") for key in _INI}
    for marker in reversed(list(item.iter_markers("websocket_api"))):
        unknown = set(marker.kwargs) - set(_MARKER_KEYS)
        if unknown:
            raise SpecError(
                f"websocket_api marker: unknown {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(_MARKER_KEYS)}"
            )
        if marker.args:
            values["template"] = marker.args[0]
        values.update({k: v for k, v in marker.kwargs.items() if v is not None})
    isolation = str(values["isolation"] or "session")
    if isolation not in ISOLATIONS:
        raise SpecError(f"websocket_api isolation {isolation!r}: use {', '.join(ISOLATIONS)}")
    return ApiSpec(
        source=_source(values["template"], config.rootpath),
        parameters=_parameters(values["parameters"] or ()),
        stage=str(values["stage"]) if values["stage"] else None,
        region=str(values["region"]) if values["region"] else None,
        isolation=isolation,
    )


def _import_stack(reference: str) -> Stack:
    """The Stack a ``module:ATTRIBUTE`` reference names."""
    module_name, _, attribute = reference.partition(":")
    try:
        stack = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"{reference}: can't import it ({exc})") from exc
    if not isinstance(stack, Stack):
        raise SpecError(f"{reference} is a {type(stack).__name__}, not an emulator Stack")
    return stack


class WebSocketApi:
    """A deployed, served WebSocket API, as a test sees it.

    ``log(function)`` is what a function logged since this test began; ``connections``,
    ``frames(connection)``, ``invocations(route=…)`` and ``calls()`` are what the
    inspector recorded since then (its bounded history; see
    :mod:`emulator.inspector.record`). The harness itself (gateway, runner, target) is
    ``harness``, for what this doesn't cover.
    """

    def __init__(self, harness: Harness, logical_tables: Mapping[str, str] | None = None) -> None:
        assert harness.outputs is not None
        assert harness.target is not None
        self.harness = harness
        self.outputs: Outputs = harness.outputs
        # ws://127.0.0.1:<port>/<stage>; a LocalStack that serves the API itself: its URL.
        self.url: str = harness.gateway.url if harness.gateway else harness.outputs.websocket_url
        stack = harness.stack
        # Each function's deployed name, by its name in the stack (a template's logical id).
        self.functions = {f.name: stack.function_name(f) for f in stack.all_functions}
        # Table names by the variable that carries them, by name, and by logical id.
        self.tables: dict[str, str] = {**harness.outputs.tables, **(logical_tables or {})}
        self._since = {name: self._size(name) for name in self.functions.values()}
        self._record_since = harness.record.seq if harness.record is not None else 0

    def __repr__(self) -> str:
        return f"WebSocketApi(url={self.url!r}, stack={self.harness.stack.name!r})"

    @property
    def stage(self) -> str:
        return self.outputs.stage

    @property
    def region(self) -> str:
        return self.outputs.region

    @property
    def endpoint_url(self) -> str:
        """The embedded AWS endpoint (DynamoDB, S3, Lambda, …) for any client."""
        return self.harness.control_plane_url

    @property
    def credentials(self) -> tuple[str, str]:
        """The access key id and secret of this harness's account."""
        assert self.harness.target is not None
        return self.harness.target.access_key

    @property
    def connections_url(self) -> str | None:
        """The ``@connections`` endpoint as functions see it: ``https://{apiId}.execute-api…``."""
        gateway = self.harness.gateway
        return gateway.management_endpoint if gateway is not None else None

    @property
    def website_url(self) -> str | None:
        return self.harness.website.url if self.harness.website is not None else None

    @property
    def outputs_path(self) -> Path | None:
        """Deploy's outputs as JSON, for tools outside Python."""
        return self.harness.settings.outputs_path

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this harness's account of the embedded AWS."""
        assert self.harness.target is not None
        return self.harness.target.client(service)

    def function_name(self, function: str) -> str:
        """The deployed name of a function given by stack name, route key or deployed name."""
        name = self.functions.get(function) or self.outputs.functions.get(function) or function
        if name not in self._since:
            raise KeyError(
                f"no function {function!r}; the stack has {', '.join(sorted(self.functions))}"
            )
        return name

    def log_path(self, function: str) -> Path:
        """The function's whole log file (START/END/REPORT lines, output, errors)."""
        return self.harness.log_dir / f"{self.function_name(function)}.log"

    def log(self, function: str) -> str:
        """What the function logged since this test began."""
        name = self.function_name(function)
        path = self.log_path(name)
        if not path.is_file():
            return ""
        with path.open("rb") as file:
            file.seek(self._since[name])
            return file.read().decode(errors="replace")

    def logs(self) -> dict[str, str]:
        """What each function that logged since this test began logged, by its stack name."""
        texts = {name: self.log(name) for name in self.functions}
        return {name: text for name, text in texts.items() if text}

    def _snapshot(self) -> Snapshot:
        """The record since this test began, copied on the harness's own event loop."""
        record = self.harness.record
        if record is None:
            raise RuntimeError("this harness keeps no record (HarnessSettings(record=False))")
        loop = self.harness.loop
        since = self._record_since
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return record.snapshot(since)

        async def copy() -> Snapshot:
            return record.snapshot(since)

        return asyncio.run_coroutine_threadsafe(copy(), loop).result(timeout=30)

    @property
    def connections(self) -> list[ConnectionEntry]:
        """The connections opened since this test began, oldest first (open or closed)."""
        return self._snapshot().connections

    def frames(self, connection: str | None = None) -> list[FrameEntry]:
        """Messages in and out (of one connection, by id) since this test began, in order."""
        return [
            f
            for f in self._snapshot().frames
            if connection is None or f.connection_id == connection
        ]

    def invocations(
        self,
        route: str | None = None,
        function: str | None = None,
        connection: str | None = None,
    ) -> list[InvocationEntry]:
        """Invocations since this test began, oldest first: of a route, of a function
        (stack name, route key or deployed name) or for a connection. One still running
        has ``outcome == "running"``."""
        name = self.function_name(function) if function is not None else None
        return [
            i
            for i in self._snapshot().invocations
            if (route is None or i.route == route)
            and (name is None or i.function == name)
            and (connection is None or i.connection_id == connection)
        ]

    def calls(
        self, connection: str | None = None, by: InvocationEntry | None = None
    ) -> list[CallEntry]:
        """``@connections`` requests since this test began: to one connection (by id), or
        made by one invocation."""
        return [
            c
            for c in self._snapshot().calls
            if (connection is None or c.connection_id == connection)
            and (by is None or c.invocation == by.seq)
        ]

    def _size(self, name: str) -> int:
        path = self.harness.log_dir / f"{name}.log"
        return path.stat().st_size if path.is_file() else 0


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
        from emulator.harness import BackgroundHarness, HarnessSettings
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
                stack = _import_stack(source) if isinstance(source, str) else source
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


_USED = pytest.StashKey[WebSocketApi]()


@pytest.fixture(scope="session")
def websocket_api_control_plane_url() -> str | None:
    """Where stacks deploy: None embeds moto's server, one for the whole session.

    Override this fixture in a ``conftest.py`` to deploy to LocalStack instead (return
    its URL): each stack then gets names of its own there, and is destroyed after.
    """
    return None


@pytest.fixture(scope="session")
def websocket_api_pool(websocket_api_control_plane_url: str | None) -> Iterator[HarnessPool]:
    """The session's harnesses; all are stopped, and the moto server with them, at its end."""
    pool = HarnessPool(websocket_api_control_plane_url)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def websocket_api(
    request: pytest.FixtureRequest, websocket_api_pool: HarnessPool
) -> Iterator[WebSocketApi]:
    """Your WebSocket API, deployed and served as configured (see the module's doc)."""
    item = request.node
    try:
        spec = spec_for(item)
        scope_node = _scope_node(item, spec.isolation)
        scope = scope_node.nodeid if scope_node is not None else item.nodeid
        running, new = websocket_api_pool.get(spec, scope)
    except SpecError as exc:
        problem = str(exc)  # reported below, without the chain of causes
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    if new and scope_node is not None:
        scope_node.addfinalizer(lambda: websocket_api_pool.stop(spec, scope))
    api = WebSocketApi(running.harness, running.tables)
    item.stash[_USED] = api
    try:
        yield api
    finally:
        if scope_node is None:
            websocket_api_pool.stop(spec, scope)


def _scope_node(item: pytest.Item, isolation: str) -> pytest.Collector | None:
    """Where a harness's life ends: None for this test, else its module or the session."""
    if isolation == "test":
        return None
    if isolation == "module":
        module = item.getparent(pytest.Module)
        if module is not None:
            return module
    return item.session


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the fixture: what the functions logged, in its report."""
    report = yield
    api = item.stash.get(_USED, None)
    if api is not None and report.failed and call.when in ("setup", "call"):
        text = "\n".join(
            f"--- {name} ({api.functions[name]})\n{log.rstrip()}"
            for name, log in api.logs().items()
        )
        report.sections.append(
            (f"Captured function logs {call.when}", text or "(no function logged anything)")
        )
    return report
