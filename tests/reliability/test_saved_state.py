"""Saved state under crashes and floods: every snapshot is one moment, whole or absent.

Real ``serve --state-dir`` processes, killed with SIGKILL at each step of a save (the
save stops at a step named through ``WS_EMULATOR_SAVE_HOOK``), and flooded with writes
that never pause while snapshots are taken.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from emulator.snapshot import AT_MOST
from tests import saved, served
from tests.client import ChatClient
from tests.e2e.chat import create_room, say
from tests.reliability.conftest import FIGURES
from tests.timing import seconds

STEPS = [
    "held",
    "copied",
    "table ChatConnections",
    "table ChatMessages",
    "table ChatRooms",
    "written",
    "synced",
    "renamed",
    "saved",
]
REPLACED = {"renamed", "saved"}  # from here on the new snapshot is the one on disk


@contextmanager
def user(running: served.Served, key: str) -> Iterator[ChatClient]:
    client = ChatClient(running.url, "Alice", key)
    try:
        yield client
    finally:
        client.close()


def texts(client: ChatClient, room: str) -> list[str]:
    reply = client.request("getHistory", expect="history", roomId=room)
    return [m["text"] for m in reply["messages"] if m.get("kind", "text") == "text"]


def saved_texts(state: Path, room: str) -> list[str]:
    """The room's messages as the snapshot on disk holds them, oldest first."""
    items = [i for i in saved.items(state, "ChatMessages") if i["roomId"]["S"] == room]
    return [i["text"]["S"] for i in sorted(items, key=lambda i: i["sk"]["S"]) if "text" in i]


def client(running: served.Served, service: str, timeout: float = 60) -> Any:
    """A client of the served stack's AWS endpoint, with the keys its banner printed."""
    found = running.wait_for(
        r"AWS_ENDPOINT_URL=(?P<url>\S+) AWS_ACCESS_KEY_ID=(?P<key>\S+) "
        r"AWS_SECRET_ACCESS_KEY=(?P<secret>\S+)"
    )
    return boto3.client(
        service,
        endpoint_url=found["url"],
        region_name="us-east-1",
        aws_access_key_id=found["key"],
        aws_secret_access_key=found["secret"],
        config=Config(read_timeout=timeout, retries={"total_max_attempts": 1}),
    )


@pytest.mark.timeout(seconds(900))  # eleven starts of the chat
def test_a_crash_at_any_step_of_a_save_leaves_one_whole_snapshot(tmp_path: Path) -> None:
    """kill -9 at each step of a save, one after another: until the rename the previous
    snapshot stays byte for byte, from the rename on the new one is whole; the next start
    restores exactly what the file holds, refuses nothing, and saves again."""
    state, hook, key = tmp_path / "state", tmp_path / "hook", secrets.token_hex(16)
    first = saved.serve(state)
    try:
        with user(first, key) as alice:
            room = create_room(alice, "Crashes")
            say(alice, room, "before any crash")
    finally:
        saved.stop(first)
    expected = ["before any crash"]
    for n, step in enumerate(STEPS):
        before = (state / saved.SNAPSHOT).read_bytes()
        hook.write_text(step)  # this run's first save stops there
        running = saved.serve(state, hook=hook)
        try:
            assert "moved to" not in saved.restored_line(running)
            assert not list(state.glob(".snapshot-*.tmp"))
            with user(running, key) as alice:
                assert texts(alice, room) == expected, step
                say(alice, room, f"message {n}")
                running.wait_for(f"save stopped at {step} ")
                if step == "held":  # the copy is taken while DynamoDB's requests wait
                    dynamodb = client(running, "dynamodb", timeout=seconds(2))
                    with pytest.raises(ReadTimeoutError):
                        dynamodb.list_tables()
                    assert client(running, "s3").list_buckets()["Buckets"]
        finally:
            saved.kill(running)
        if step in REPLACED:
            assert (state / saved.SNAPSHOT).read_bytes() != before, step
            assert saved_texts(state, room) in (expected, [*expected, f"message {n}"]), step
            expected = saved_texts(state, room)
        else:
            assert (state / saved.SNAPSHOT).read_bytes() == before, step
    last = saved.serve(state)
    try:
        with user(last, key) as alice:
            assert texts(alice, room) == expected
    finally:
        saved.stop(last)


TWO_TABLES = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Counts:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: counts
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: writer, AttributeType: S}]
      KeySchema: [{AttributeName: writer, KeyType: HASH}]
  Entries:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: entries
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: writer, AttributeType: S}
        - {AttributeName: n, AttributeType: N}
      KeySchema:
        - {AttributeName: writer, KeyType: HASH}
        - {AttributeName: n, KeyType: RANGE}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: counts
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Default:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"statusCode": 200}
"""
WRITERS = 6


def mixed(tables: dict[str, Any]) -> list[str]:
    """Writers whose count and entries can't be from one moment. Each writer adds an
    entry, then sets its count to the number of its entries: at any moment the count is
    that number, or one less."""
    entries: dict[str, int] = {}
    for item in tables.get("entries", {}).get("items", []):
        entries[item["writer"]["S"]] = entries.get(item["writer"]["S"], 0) + 1
    counts = {
        i["writer"]["S"]: int(i["count"]["N"]) for i in tables.get("counts", {}).get("items", [])
    }
    return [
        f"{w}: {counts.get(w, 0)} counted, {entries.get(w, 0)} entries"
        for w in {*entries, *counts}
        if not entries.get(w, 0) - 1 <= counts.get(w, 0) <= entries.get(w, 0)
    ]


def test_writes_that_never_pause_are_saved_every_few_seconds_each_snapshot_one_moment(
    tmp_path: Path,
) -> None:
    """Six writers write two tables without a pause: a snapshot is still saved every
    few seconds, each one moment across the tables; kill -9 loses the last seconds only."""
    template = tmp_path / "counts" / "template.yaml"
    template.parent.mkdir()
    template.write_text(TWO_TABLES)
    state = tmp_path / "state"
    running = saved.serve(state, stack=str(template))
    done = threading.Event()
    written: dict[str, list[float]] = {f"w{k}": [] for k in range(WRITERS)}

    def write(writer: str) -> None:
        dynamodb = client(running, "dynamodb")
        n = 0
        while not done.is_set():
            n += 1
            item = {"writer": {"S": writer}, "n": {"N": str(n)}}
            dynamodb.put_item(TableName="entries", Item=item)
            dynamodb.put_item(
                TableName="counts", Item={"writer": {"S": writer}, "count": {"N": str(n)}}
            )
            written[writer].append(time.monotonic())

    threads = [threading.Thread(target=write, args=(w,)) for w in written]
    snapshots: dict[str, list[str]] = {}  # saved_at → writers it mixes
    try:
        for thread in threads:
            thread.start()
        started = latest = time.monotonic()
        # Until three snapshots, then almost until the next one is due: the worst moment.
        while len(snapshots) < 3 or time.monotonic() - latest < AT_MOST - 0.5:
            assert time.monotonic() - started < seconds(6 * AT_MOST), snapshots
            path = state / saved.SNAPSHOT
            if path.exists():
                snapshot = json.loads(path.read_text())
                if snapshot["saved_at"] not in snapshots:
                    snapshots[snapshot["saved_at"]] = mixed(snapshot["tables"])
                    latest = time.monotonic()
            time.sleep(0.1)
    finally:
        done.set()
        for thread in threads:
            thread.join()
        killed_at = time.monotonic()
        saved.kill(running)
    assert all(not mixes for mixes in snapshots.values()), snapshots
    again = saved.serve(state, stack=str(template))
    try:
        dynamodb = client(again, "dynamodb")
        restored = {
            t: {"items": dynamodb.scan(TableName=t)["Items"]} for t in ("counts", "entries")
        }
    finally:
        saved.stop(again)
    assert not mixed(restored)
    kept = {i["writer"]["S"]: int(i["count"]["N"]) for i in restored["counts"]["items"]}
    lost = max(
        (
            killed_at - times[kept.get(w, 0)]
            for w, times in written.items()
            if times[kept.get(w, 0) :]
        ),
        default=0.0,
    )
    FIGURES["saved state: seconds of writes lost to kill -9 under a write flood"] = round(lost, 1)
    FIGURES["saved state: writes per second during the flood"] = round(
        2 * sum(map(len, written.values())) / (killed_at - started)
    )
    assert lost < seconds(AT_MOST + 3)
