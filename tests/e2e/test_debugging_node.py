"""Breakpoints in Node.js handlers: a Chrome DevTools Protocol client attaches to
``node --inspect`` as VS Code or DevTools would.

The stack is ``tests/fixtures/inspect-node/`` (copied): ``double`` is an ES module,
``echo`` CommonJS. ``tests/cdp.py`` finds the worker's target at ``/json/list``, sets a
breakpoint by the URL of the stable code path the attach configuration maps to the
source, and reads the paused frame's values.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from emulator import nodejs
from emulator.controlplane import ControlPlane
from emulator.debugging import DebugSettings, DebugTarget
from emulator.harness import BackgroundHarness, Harness
from emulator.harness_settings import HarnessSettings
from emulator.template import load
from tests.cdp import CdpClient, targets
from tests.e2e.test_debugging import breakpoint_line, free_port
from tests.served import start
from tests.timing import seconds, settles

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "inspect-node"
TIMEOUT = 2  # the double route's function timeout, in the template

pytestmark = pytest.mark.skipif(nodejs.find_node() is None, reason="Node.js is not installed")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports nothing listens on."""
    while True:
        first = free_port()
        sockets = []
        try:
            for port in range(first, first + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
        return first


class Debugged:
    """A served copy of the fixture with its functions under the Node.js inspector."""

    def __init__(self, background: BackgroundHarness, harness: Harness, project: Path) -> None:
        self.background = background
        self.harness = harness
        self.project = project
        self.targets = {target.label: target for target in harness.debugged}
        self.source = project / "src" / "double.mjs"

    @property
    def double(self) -> DebugTarget:
        return self.targets["DoubleFunction"]


@pytest.fixture(scope="module")
def debugged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Debugged]:
    """Every function debugged (the default): the first port for one, the next for the other."""
    tmp_path = tmp_path_factory.mktemp("debugged-node")
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    stack = load(project / "template.yaml", work_dir=tmp_path / "work").stack
    settings = HarnessSettings(
        stack=stack,
        debug=DebugSettings(port=free_ports(2), root=tmp_path / "debug", project=project),
    )
    plane = ControlPlane()
    plane.start()
    try:
        background = BackgroundHarness(settings, control_plane=plane)
        with background as harness:
            yield Debugged(background, harness, project)
    finally:
        plane.stop()


def ask(url: str, message: dict[str, Any], into: list[Any]) -> threading.Thread:
    """Send ``message`` from a client in a thread; its reply lands in ``into``."""

    def run() -> None:
        with connect(url) as ws:
            ws.send(json.dumps(message))
            into.append(json.loads(ws.recv(timeout=seconds(60))))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def attach(debugged: Debugged) -> tuple[CdpClient, str, int, str]:
    """A client attached through /json/list with a breakpoint at the marked line, by the
    stable path's URL: the client, the URL, the line (from 0) and the breakpoint's id."""
    target = debugged.double
    client = CdpClient.attach(target.host, target.port)
    client.command("Debugger.enable")
    url = (target.task_root / "double.mjs").as_uri()
    line = breakpoint_line(debugged.source) - 1  # CDP counts lines from 0
    # The worker loads its handler as it starts: from the stable path, not the link's target.
    assert settles(lambda: url in client.scripts.values())
    placed = client.command("Debugger.setBreakpointByUrl", url=url, lineNumber=line)
    return client, url, line, placed["breakpointId"]


def test_a_breakpoint_by_the_stable_path_stops_the_es_module_handler(debugged: Debugged) -> None:
    """Attached through /json/list, a breakpoint set at the stable path's URL binds in the
    loaded module and stops the handler with the event's values, past its 2 s timeout;
    resumed, the client gets its reply; the other function serves meanwhile."""
    assert debugged.double.task_root.is_symlink()
    client, url, line, breakpoint = attach(debugged)
    gateway = debugged.harness.gateway
    assert gateway is not None
    replies: list[Any] = []
    asking = ask(gateway.url, {"action": "double", "value": 21}, replies)
    paused = client.event("Debugger.paused", timeout=30)
    assert paused["hitBreakpoints"] == [breakpoint]
    frame = paused["callFrames"][0]
    assert client.scripts[frame["location"]["scriptId"]] == url
    assert frame["location"]["lineNumber"] == line
    value = client.command(
        "Debugger.evaluateOnCallFrame", callFrameId=frame["callFrameId"], expression="value"
    )
    assert value["result"]["value"] == 21

    with connect(gateway.url) as other:  # another function is not held up by the paused one
        other.send(json.dumps({"action": "echo", "while": "paused"}))
        assert json.loads(other.recv(timeout=seconds(10))) == {"action": "echo", "while": "paused"}
    # Stay paused longer than the function's timeout: that is what is tested here.
    time.sleep(TIMEOUT + 0.5)
    assert replies == []
    client.command("Debugger.resume")
    asking.join(seconds(30))
    assert replies[0]["doubled"] == 42
    client.close()
    record = debugged.harness.record
    assert record is not None
    (double,) = [i for i in record.invocations() if i.route == "double"]
    assert double.outcome == "success"


def test_a_debugger_that_goes_away_while_paused_lets_the_handler_finish(
    debugged: Debugged,
) -> None:
    """The user's debugger disconnecting at a breakpoint resumes the worker (the runner's
    own session doesn't hold it paused), and the invocation ends in time."""
    client, _, _, _ = attach(debugged)
    gateway = debugged.harness.gateway
    assert gateway is not None
    replies: list[Any] = []
    asking = ask(gateway.url, {"action": "double", "value": 5}, replies)
    client.event("Debugger.paused", timeout=30)
    client.close()
    asking.join(seconds(30))
    assert replies[0]["doubled"] == 10


def test_each_function_has_its_own_port_and_a_node_attach_configuration(
    debugged: Debugged,
) -> None:
    """Every Node.js function listens, one port after another; launch.json's entries are
    VS Code's ``node`` attach, mapping the stable path to the source folder."""
    ports = sorted(t.port for t in debugged.targets.values())
    assert ports == [ports[0], ports[0] + 1]
    for target in debugged.targets.values():
        (listed,) = targets(target.host, target.port)
        assert listed["type"] == "node"
        configuration = target.configuration()
        assert configuration["type"] == "node"
        assert configuration["request"] == "attach"
        assert (configuration["address"], configuration["port"]) == (target.host, target.port)
        assert configuration["localRoot"] == str((debugged.project / "src").resolve())
        assert configuration["remoteRoot"] == str(target.task_root)


def test_the_timeout_still_applies_when_running(debugged: Debugged) -> None:
    """Not paused, a debugged Node.js handler still times out as any other."""
    source = debugged.source
    text = source.read_text().replace(
        "  const value =",
        "  await new Promise((done) => setTimeout(done, 30000));\n  const value =",
    )
    source.write_text(text)
    debugged.background.call(debugged.harness.redeploy())
    gateway = debugged.harness.gateway
    assert gateway is not None
    replies: list[Any] = []
    ask(gateway.url, {"action": "double", "value": 1}, replies).join(seconds(30))
    assert replies[0]["message"] == "Internal server error"


def test_serve_prints_the_node_attach_configuration(tmp_path: Path) -> None:
    """The banner names the debugged Node.js function's address and says how to attach."""
    shutil.copytree(FIXTURE, tmp_path / "project")
    port = free_port()
    served = start(
        "template.yaml",
        "--debug-port",
        str(port),
        "--debug-function",
        "double",
        cwd=tmp_path / "project",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    try:
        served.wait_for("Press Ctrl-C")
        address = served.wait_for(r"Debugger\s+(?P<at>\S+)\s+DoubleFunction")["at"]
        assert address == f"127.0.0.1:{port}"
        text = served.output
        assert "chrome://inspect" in text
        start_json = text.index("{\n")
        launch = json.loads(text[start_json : text.index("\n}", start_json) + 2])
        (configuration,) = launch["configurations"]
        assert configuration["type"] == "node"
        assert configuration["port"] == port
        (listed,) = targets("127.0.0.1", port)  # it listens
        assert listed["webSocketDebuggerUrl"].startswith(f"ws://127.0.0.1:{port}/")
    finally:
        assert served.stop() == 0, served.output
