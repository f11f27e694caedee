"""serve --debug-port's pure parts: which functions, their stable paths, launch.json."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from pathlib import Path

import pytest

from emulator.debugging import (
    DebugError,
    DebugTarget,
    banner_lines,
    debuggable_functions,
    launch_json,
    resolve_functions,
    result_line,
    stable_path,
)

LABELS = {"RoomsFunction": "app-Rooms-1", "ChatFunction": "app-Chat-2"}
ROUTES = {"$connect": "app-Chat-2", "rooms": "app-Rooms-1"}
DEPLOYED = ["app-Chat-2", "app-Rooms-1"]


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        ((), DEPLOYED),
        (("RoomsFunction",), ["app-Rooms-1"]),
        (("rooms",), ["app-Rooms-1"]),
        (("app-Chat-2", "$connect", "rooms"), ["app-Chat-2", "app-Rooms-1"]),
    ],
)
def test_functions_by_logical_id_route_key_or_deployed_name(
    wanted: tuple[str, ...], chosen: list[str]
) -> None:
    """Any of the three names picks a function once; none picks every function."""
    assert resolve_functions(wanted, LABELS, ROUTES, DEPLOYED) == chosen


def test_an_unknown_function_is_named_with_the_ones_there_are() -> None:
    """The error lists the stack's functions by the names the user wrote them with."""
    with pytest.raises(DebugError, match="no such function; the stack has ChatFunction, Rooms"):
        resolve_functions(["Nope"], LABELS, ROUTES, DEPLOYED)


RUNTIMES = {"app-Chat-2": "python3.12", "app-Node-3": "nodejs22.x", "app-Own-4": "provided.al2023"}


def test_every_python_and_node_function_is_debugged_by_default() -> None:
    """Without names: the Python and Node.js functions, not a custom runtime's."""
    assert debuggable_functions((), {}, {}, RUNTIMES) == ["app-Chat-2", "app-Node-3"]


def test_a_custom_runtime_named_is_refused_with_the_reason() -> None:
    """Naming a function of a runtime no debugger attaches to here is one clear error."""
    with pytest.raises(DebugError, match=r"a provided\.al2023 function can't be debugged here"):
        debuggable_functions(["app-Own-4"], {}, {}, RUNTIMES)
    assert debuggable_functions(["app-Node-3"], {}, {}, RUNTIMES) == ["app-Node-3"]


def test_a_function_that_doesnt_run_here_is_left_out_or_refused_if_named() -> None:
    """No node on the machine: its Node.js functions aren't debugged by default, and
    naming one says why."""
    refused = {"app-Node-3": "nodejs22.x needs Node.js: no node on PATH"}
    assert debuggable_functions((), {}, {}, RUNTIMES, refused) == ["app-Chat-2"]
    with pytest.raises(DebugError, match=r"it doesn't run here: nodejs22\.x needs Node\.js"):
        debuggable_functions(["app-Node-3"], {}, {}, RUNTIMES, refused)


def test_a_node_function_attaches_as_vs_codes_node_debugger(tmp_path: Path) -> None:
    """node --inspect at its port, modules at their stable path; VS Code's ``node`` attach
    with the path mapping; the banner says how Chrome attaches."""
    target = DebugTarget(
        "fn", "Fn", 9229, tmp_path / "9229" / "src", tmp_path, None, family="nodejs"
    )
    assert target.node_args() == ["--inspect=127.0.0.1:9229", "--preserve-symlinks"]
    configuration = target.configuration()
    assert configuration["type"] == "node"
    assert configuration["remoteRoot"] == str(tmp_path / "9229" / "src")
    assert configuration["localRoot"] == str(tmp_path)
    text = "\n".join(banner_lines([target]))
    assert "chrome://inspect" in text
    assert "PyCharm" not in text


def test_the_stable_path_keeps_the_sources_place_in_the_project(tmp_path: Path) -> None:
    """Under the project: its relative path; elsewhere: its name; no source: ``code``."""
    project = tmp_path / "project"
    (project / "src" / "fn").mkdir(parents=True)
    root = tmp_path / "debug"
    assert stable_path(root, 5678, project / "src" / "fn", project) == root / "5678/src/fn"
    assert stable_path(root, 5678, tmp_path, project) == root / "5678" / tmp_path.name
    assert stable_path(root, 5679, None, project) == root / "5679/code"


def test_launch_json_has_a_configuration_each_and_a_compound(tmp_path: Path) -> None:
    """Valid JSON: an attach configuration per function, and one to attach to all."""
    targets = [
        DebugTarget(f"fn{n}", f"Fn{n}", 5678 + n, tmp_path / str(n), tmp_path, tmp_path)
        for n in range(2)
    ]
    document = json.loads(launch_json(targets))
    assert [c["connect"]["port"] for c in document["configurations"]] == [5678, 5679]
    assert document["compounds"][0]["configurations"] == ["Attach to Fn0", "Attach to Fn1"]
    assert "compounds" not in json.loads(launch_json(targets[:1]))


def test_pointing_the_stable_path_replaces_the_link(tmp_path: Path) -> None:
    """The link follows the code the function runs now."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    target = DebugTarget("fn", "Fn", 5678, tmp_path / "debug" / "5678" / "src", None, tmp_path)
    target.point_at(first)
    target.point_at(second)
    assert target.task_root.resolve() == second.resolve()


def read_with(lines: list[bytes], timeout: float) -> bytes:
    async def run() -> bytes:
        stream = asyncio.StreamReader()
        for line in lines:
            stream.feed_data(line)
        return await result_line(stream, timeout)

    # On a thread of its own: another tier's fixtures may hold a loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_a_debugged_workers_result_line_skips_the_debuggers_lines() -> None:
    """Lines saying stopped or running come before the result, which is returned."""
    lines = [b'{"debugger": "stopped"}\n', b'{"debugger": "running"}\n', b'{"result": 1}\n']
    assert read_with(lines, 1) == b'{"result": 1}\n'


def test_a_debugged_worker_that_isnt_stopped_still_times_out() -> None:
    """No result and not stopped: TimeoutError, as for any worker."""
    with pytest.raises(TimeoutError):
        read_with([b'{"debugger": "stopped"}\n', b'{"debugger": "running"}\n'], 0.05)
