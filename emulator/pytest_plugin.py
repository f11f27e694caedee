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

This module holds pytest's hooks and the fixtures; what a test asks for is read by
:mod:`emulator.plugin_spec`, the harnesses are kept by :mod:`emulator.harness_pool`,
and the fixture's object is :class:`emulator.websocket_api.WebSocketApi`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from emulator.harness_pool import HarnessPool
from emulator.plugin_spec import INI, SpecError, spec_for
from emulator.websocket_api import WebSocketApi as WebSocketApi  # its documented home before


def pytest_addoption(parser: pytest.Parser) -> None:
    for key, help_ in INI.items():
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
