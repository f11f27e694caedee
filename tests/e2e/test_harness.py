"""Harness hygiene: each harness its own state, every port choosable, output where asked."""

from __future__ import annotations

import socket
from pathlib import Path

from emulator.harness import BackgroundHarness, HarnessSettings
from emulator.stack import Stack
from emulator.template import load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "tests" / "fixtures" / "templates" / "sam-framework" / "template.yaml"


def framework_stack(tmp_path: Path) -> Stack:
    return load(TEMPLATE, parameters={"Greeting": "hi"}, work_dir=tmp_path).stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_harnesses_in_one_process_do_not_share_state(tmp_path: Path) -> None:
    """The same stack twice in one process: each deploys into an empty account of its own."""
    stack = framework_stack(tmp_path)
    with (
        BackgroundHarness(HarnessSettings(stack=stack)) as first,
        BackgroundHarness(HarnessSettings(stack=stack)) as second,
    ):
        for harness in (first, second):
            assert {action for action, _, _ in harness.report.steps} == {"created"}
        assert first.target is not None
        assert second.target is not None
        assert first.target.account_id() != second.target.account_id()
        (table,) = stack.tables
        first.target.client("dynamodb").put_item(
            TableName=table.name, Item={"connectionId": {"S": "only-in-the-first"}}
        )
        seen = second.target.client("dynamodb").get_item(
            TableName=table.name, Key={"connectionId": {"S": "only-in-the-first"}}
        )
        assert "Item" not in seen


def test_every_port_can_be_chosen(tmp_path: Path) -> None:
    """WebSocket, website, control plane and @connections listen where they are told."""
    ports = {name: free_port() for name in ("gateway", "control", "connections")}
    settings = HarnessSettings(
        stack=framework_stack(tmp_path),
        gateway_port=ports["gateway"],
        control_plane_port=ports["control"],
        connections_port=ports["connections"],
    )
    with BackgroundHarness(settings) as harness:
        assert harness.gateway is not None
        assert harness.gateway.port == ports["gateway"]
        assert harness.control_plane_url == f"http://127.0.0.1:{ports['control']}"
        assert harness.gateway.connections_port == ports["connections"]


def test_build_output_goes_where_asked_and_never_into_the_checkout(tmp_path: Path) -> None:
    """Packages go to the chosen build directory, or to a temporary one by default."""
    before = {p for p in ROOT.rglob("*.zip") if ".venv" not in p.parts}
    settings = HarnessSettings(stack=framework_stack(tmp_path), build_dir=tmp_path / "out")
    with BackgroundHarness(settings) as harness:
        assert harness.outputs is not None
        assert {Path(p).parent for p in harness.outputs.packages.values()} == {tmp_path / "out"}
    with BackgroundHarness(HarnessSettings(stack=framework_stack(tmp_path))) as harness:
        assert harness.outputs is not None
        for path in harness.outputs.packages.values():
            assert not Path(path).is_relative_to(ROOT)
    assert {p for p in ROOT.rglob("*.zip") if ".venv" not in p.parts} == before
