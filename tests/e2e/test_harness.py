"""Harness hygiene: each harness its own state, every port choosable, output where asked."""

from __future__ import annotations

import socket
from pathlib import Path

from emulator.harness import BackgroundHarness
from emulator.harness_settings import HarnessSettings
from emulator.stack import Stack, Table
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


def test_fresh_puts_back_the_tables_and_the_website_as_deploy_left_them(tmp_path: Path) -> None:
    """Items, a new table, website objects added, changed or deleted: all as after deploy."""
    from emulator.fresh import Fresh
    from scripts.stack import CHAT

    background = BackgroundHarness(HarnessSettings(stack=CHAT, build_dir=tmp_path / "build"))
    with background as harness:
        assert harness.target is not None
        assert harness.outputs is not None
        bucket = harness.outputs.bucket
        assert bucket is not None
        fresh = Fresh.take(harness)
        dynamodb, s3 = harness.target.client("dynamodb"), harness.target.client("s3")
        tables = dynamodb.list_tables()["TableNames"]
        listing = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        page = s3.get_object(Bucket=bucket, Key="index.html")
        for table in CHAT.tables:
            dynamodb.put_item(TableName=CHAT.table_name(table), Item=_item(table))
        dynamodb.create_table(
            TableName="made-here",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3.put_object(Bucket=bucket, Key="index.html", Body=b"changed")
        s3.put_object(Bucket=bucket, Key="added.txt", Body=b"new")
        s3.delete_object(Bucket=bucket, Key=sorted(listing)[-1])

        restored = background.call(fresh.restore(harness))

        assert restored.objects == 3
        assert dynamodb.list_tables()["TableNames"] == tables
        for name in tables:
            assert dynamodb.scan(TableName=name)["Count"] == 0
        after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        assert after == listing
        again = s3.get_object(Bucket=bucket, Key="index.html")
        assert again["Body"].read() == page["Body"].read()
        assert (again["ContentType"], again.get("CacheControl")) == (
            page["ContentType"],
            page.get("CacheControl"),
        )
        assert background.call(fresh.restore(harness)).objects == 0


def _item(table: Table) -> dict[str, dict[str, str]]:
    """An item with only the table's key."""
    kinds = {table.hash_key: table.key_type(table.hash_key)}
    if table.range_key is not None:
        kinds[table.range_key] = table.key_type(table.range_key)
    return {key: {kind: "1" if kind == "N" else "by-the-test"} for key, kind in kinds.items()}
