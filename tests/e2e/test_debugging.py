"""Breakpoints in handlers: a DAP client attaches to a debugged worker as an IDE would.

The stack is ``tests/fixtures/inspect/`` (copied, so that a test can edit it), whose
``double`` route has a 2 s timeout. ``tests/dap.py`` speaks the Debug Adapter Protocol
to debugpy in the worker: it attaches with the path mapping the banner prints, sets a
breakpoint in the source file, and reads the stopped frame's variables.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from emulator.controlplane import ControlPlane
from emulator.debugging import DebugSettings, DebugTarget
from emulator.harness import BackgroundHarness, Harness
from emulator.harness_settings import HarnessSettings
from emulator.template import load
from tests.dap import DapClient
from tests.served import start
from tests.timing import seconds, settles

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
TIMEOUT = 2  # the double route's function timeout, in the template


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def breakpoint_line(source: Path) -> int:
    """The line the handler marks for the debugger."""
    lines = source.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "the debugger tests stop here" in line)


class Debugged:
    """A served copy of the fixture with DoubleFunction under the debugger."""

    def __init__(self, background: BackgroundHarness, harness: Harness, project: Path) -> None:
        self.background = background
        self.harness = harness
        self.project = project
        (self.target,) = harness.debugged
        self.source = project / "src" / "app.py"

    def attach(self) -> DapClient:
        client = DapClient.connect(self.target.host, self.target.port, timeout=30)
        mapping = self.target.configuration()["pathMappings"]
        client.attach(mapping, {str(self.source): [breakpoint_line(self.source)]})
        return client


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane()
    plane.start()
    yield plane
    plane.stop()


@pytest.fixture(scope="module")
def debugged(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[Debugged]:
    """One served copy for the module's tests, which run in order: the last ones edit it."""
    tmp_path = tmp_path_factory.mktemp("debugged")
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    stack = load(project / "template.yaml", work_dir=tmp_path / "work").stack
    settings = HarnessSettings(
        stack=stack,
        debug=DebugSettings(
            port=free_port(),
            functions=("DoubleFunction",),
            root=tmp_path / "debug",
            project=project,
        ),
    )
    background = BackgroundHarness(settings, control_plane=control_plane)
    with background as harness:
        yield Debugged(background, harness, project)


def ask_double(url: str, value: int, into: list[Any]) -> threading.Thread:
    """Send {"action": "double"} from a client in a thread; its reply lands in ``into``."""

    def run() -> None:
        with connect(url) as ws:
            ws.send(json.dumps({"action": "double", "value": value}))
            into.append(json.loads(ws.recv(timeout=seconds(60))))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def stopped_frame(client: DapClient) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The thread stopped at the breakpoint, its top frame, and that frame's locals."""
    stopped = client.event("stopped", timeout=30)
    assert stopped["reason"] == "breakpoint"
    thread = stopped["threadId"]
    frame = client.request("stackTrace", threadId=thread)["stackFrames"][0]
    scopes = client.request("scopes", frameId=frame["id"])["scopes"]
    local = next(s for s in scopes if s["name"].lower().startswith("local"))
    variables = client.request("variables", variablesReference=local["variablesReference"])
    return thread, frame, {v["name"]: v["value"] for v in variables["variables"]}


def test_a_breakpoint_stops_the_handler_and_its_timeout(debugged: Debugged) -> None:
    """Stopped with the event's values, past the 2 s timeout; continued, the client gets
    its reply and the handler had time left; other functions serve meanwhile."""
    assert debugged.target.task_root.is_symlink()
    client = debugged.attach()
    url = debugged.harness.gateway.url  # type: ignore[union-attr]
    replies: list[Any] = []
    asking = ask_double(url, 21, replies)
    thread, frame, local = stopped_frame(client)
    assert frame["source"]["path"] == str(debugged.source)  # mapped back to the source
    assert frame["line"] == breakpoint_line(debugged.source)
    assert local["value"] == "21"
    assert "'body'" in local["event"]
    assert "double" in local["event"]

    with connect(url) as other:  # another function is not held up by the stopped one
        other.send(json.dumps({"action": "echo", "while": "stopped"}))
        assert json.loads(other.recv(timeout=seconds(10))) == {"action": "echo", "while": "stopped"}
    # Stay stopped longer than the function's timeout: that is what is tested here.
    time.sleep(TIMEOUT + 0.5)
    assert replies == []
    client.request("continue", threadId=thread)
    asking.join(seconds(30))
    assert replies[0]["doubled"] == 42
    assert replies[0]["remaining"] > 0  # the time stopped didn't count against it
    record = debugged.harness.record
    assert record is not None
    (double,) = [i for i in record.invocations() if i.route == "double"]
    assert double.outcome == "success"
    log = debugged.harness.runner.logs.path(debugged.target.function).read_text()  # type: ignore[union-attr]
    assert "Task timed out" not in log
    client.close()


def test_the_attach_configuration_maps_the_stable_path_to_the_source(debugged: Debugged) -> None:
    """launch.json's mapping: the source folder, and a path under the debug root that
    keeps the source's place in the project (what PyCharm's remote project path needs)."""
    target: DebugTarget = debugged.target
    configuration = target.configuration()
    assert configuration["connect"] == {"host": "127.0.0.1", "port": target.port}
    (mapping,) = configuration["pathMappings"]
    assert mapping["localRoot"] == str((debugged.project / "src").resolve())
    assert mapping["remoteRoot"].endswith(f"/debug/{target.port}/src")
    assert settles(lambda: (target.task_root / "app.py").is_file())


def test_after_an_edit_the_debugger_attaches_again(debugged: Debugged) -> None:
    """A reload gives a new debugged worker on the same port and paths; the same attach
    configuration binds the breakpoint in the edited source."""
    first = debugged.attach()
    first.close()
    source = debugged.source
    source.write_text(source.read_text().replace("value * 2  #", "value * 3  #"))
    debugged.background.call(debugged.harness.redeploy())
    client = debugged.attach()  # retries until the new worker listens
    replies: list[Any] = []
    asking = ask_double(debugged.harness.gateway.url, 21, replies)  # type: ignore[union-attr]
    thread, frame, local = stopped_frame(client)
    assert frame["source"]["path"] == str(source)
    assert local["value"] == "21"
    client.request("continue", threadId=thread)
    asking.join(seconds(30))
    assert replies[0]["doubled"] == 63
    client.close()


def test_the_timeout_still_applies_when_running(debugged: Debugged) -> None:
    """Not stopped, a debugged handler still times out as any other."""
    source = debugged.source
    text = source.read_text().replace(
        "    value = json.loads", "    import time\n    time.sleep(30)\n    value = json.loads"
    )
    source.write_text(text)
    debugged.background.call(debugged.harness.redeploy())
    replies: list[Any] = []
    ask_double(debugged.harness.gateway.url, 1, replies).join(seconds(30))  # type: ignore[union-attr]
    assert replies[0]["message"] == "Internal server error"


def test_serve_prints_where_to_attach_and_the_inspector(tmp_path: Path) -> None:
    """The banner names each debugged function's address and prints launch.json; the
    inspector's page is served with its CSP."""
    shutil.copytree(FIXTURE, tmp_path / "project")
    port = free_port()
    served = start(
        "template.yaml",
        "--debug-port",
        str(port),
        "--debug-function",
        "double",  # a route key
        cwd=tmp_path / "project",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    try:
        served.wait_for("Press Ctrl-C")
        address = served.wait_for(r"Debugger\s+(?P<at>\S+)\s+DoubleFunction")["at"]
        assert address == f"127.0.0.1:{port}"
        text = served.output
        start_json = text.index("{\n")
        launch = json.loads(text[start_json : text.index("\n}", start_json) + 2])
        (configuration,) = launch["configurations"]
        assert configuration["connect"] == {"host": "127.0.0.1", "port": port}
        assert configuration["pathMappings"] == [
            {
                "localRoot": str((tmp_path / "project" / "src").resolve()),
                "remoteRoot": str(tmp_path / "cache" / "ws-emulator" / "debug" / str(port) / "src"),
            }
        ]
        page = served.wait_for(r"Inspector\s+(?P<url>http://\S+)")["url"]
        with urllib.request.urlopen(page, timeout=seconds(10)) as response:
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert b"<title>Inspector" in response.read()
        DapClient.connect("127.0.0.1", port).close()  # it listens
    finally:
        assert served.stop() == 0, served.output


def test_serve_refuses_an_unknown_function(tmp_path: Path) -> None:
    """--debug-function naming no function of the stack is one line and exit status 1,
    before anything is deployed."""
    shutil.copytree(FIXTURE, tmp_path / "project")
    served = start(
        "template.yaml",
        "--debug-port",
        str(free_port()),
        "--debug-function",
        "NoSuchFunction",
        cwd=tmp_path / "project",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert served.process.wait(timeout=seconds(120)) == 1
    served.drain()
    assert (
        "error: --debug-function NoSuchFunction: no such function; the stack has "
        "ConnectFunction, DisconnectFunction, DoubleFunction" in served.output
    )
    assert "Traceback" not in served.output
    assert "Deploying" not in served.output
