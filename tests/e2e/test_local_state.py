"""Saved state (``serve --state-dir``, what ``make local`` uses) survives every way it stops.

Most tests start from one saved chat (a room, "Kept", with two messages, saved by a
clean stop), damage or stop it in one way, and check that nothing saved is lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests import saved, served
from tests.client import ChatClient
from tests.e2e.chat import create_room, say
from tests.timing import seconds, settles

MESSAGES, ROOMS, CONNECTIONS = "ChatMessages", "ChatRooms", "ChatConnections"


@dataclass(frozen=True)
class Chat:
    """A state directory that holds one room and its two messages, and its admin's key."""

    state: Path
    key: str
    room: str

    def copy(self, tmp_path: Path) -> Path:
        target = tmp_path / "state"
        shutil.copytree(self.state, target, ignore=shutil.ignore_patterns(".lock"))
        return target


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Chat:
    state = tmp_path_factory.mktemp("chat") / "state"
    key = secrets.token_hex(16)
    running = saved.serve(state)
    try:
        with user(running, key) as alice:
            room = create_room(alice, "Kept")
            say(alice, room, "first")
            say(alice, room, "second")
    finally:
        saved.stop(running)
    return Chat(state, key, room)


@contextmanager
def user(running: served.Served, key: str) -> Iterator[ChatClient]:
    client = ChatClient(running.url, "Alice", key)
    try:
        yield client
    finally:
        client.close()


def rooms(client: ChatClient) -> list[str]:
    return [r["roomId"] for r in client.request("listRooms", expect="rooms")["rooms"]]


def texts(client: ChatClient, room: str) -> list[str]:
    reply = client.request("getHistory", expect="history", roomId=room)
    return [m["text"] for m in reply["messages"] if m.get("kind", "text") == "text"]


def make_local(tmp_path: Path, *variables: str) -> served.Served:
    """``make local`` as a user runs it, with free ports and its state in ``tmp_path``."""
    command = [
        "make",
        "-s",
        "local",
        "WS_PORT=0",
        "PORT=0",
        f"STATE_DIR={tmp_path / 'state'}",
        f"OUTPUTS={tmp_path / 'outputs.json'}",
        *variables,
    ]
    running = served.run(command)
    running.wait_for("Press Ctrl-C to stop.")
    return running


def stop_make(running: served.Served) -> None:
    """Ctrl-C: the emulator stops cleanly; make itself reports the interrupt by dying of it."""
    assert running.stop() in (0, -signal.SIGINT), running.output
    assert running.lines[-1] == "Stopping… stopped.", running.output
    assert "Traceback" not in running.output


def test_rooms_and_messages_survive_a_restart(tmp_path: Path) -> None:
    """A room and its messages are there after Ctrl-C and a new make local; FRESH=1
    starts empty and drops what was set aside."""
    key = secrets.token_hex(16)
    first = make_local(tmp_path)
    try:
        with user(first, key) as alice:
            room = create_room(alice, "Kept")
            say(alice, room, "still here?")
    finally:
        stop_make(first)
    assert "Tables are saved in" in first.output

    (tmp_path / "state" / "refused").mkdir()
    (tmp_path / "state" / "refused" / "old.json").write_text("{")
    second = make_local(tmp_path)
    try:
        assert second.wait_for(r"restored 3 table\(s\), (?P<n>\d+) item\(s\)")["n"] != "0"
        with user(second, key) as alice:
            assert rooms(alice) == [room]
            assert texts(alice, room) == ["still here?"]
    finally:
        stop_make(second)

    fresh = make_local(tmp_path, "FRESH=1")
    try:
        assert fresh.wait_for(r"restored (?P<n>\d+) table")["n"] == "0"
        with user(fresh, key) as alice:
            assert rooms(alice) == []
    finally:
        stop_make(fresh)
    assert not (tmp_path / "state" / "refused" / "old.json").exists()


def test_an_empty_list_for_a_table_is_set_aside_and_the_other_tables_kept(
    chat: Chat, tmp_path: Path
) -> None:
    """``[]`` saved for ChatMessages: the start moves it aside and says so; the rooms
    are restored and saved again whole, not emptied."""
    state = chat.copy(tmp_path)
    rooms_before = saved.keys(state, ROOMS)
    assert len(rooms_before) >= 2
    saved.replace(state, MESSAGES, [])
    running = saved.serve(state)
    try:
        line = saved.restored_line(running)
        assert "ChatMessages: not a saved table (a JSON list), not restored; moved to" in line
        with user(running, chat.key) as alice:
            assert rooms(alice) == [chat.room]
            assert texts(alice, chat.room) == []
    finally:
        saved.stop(running)
    assert saved.keys(state, ROOMS) == rooms_before
    [(aside, why)] = saved.refused(state).items()
    assert json.loads(aside.read_text())["tables"][MESSAGES] == []
    assert "ChatMessages: not a saved table" in why


def test_an_item_dynamodb_refuses_sets_its_whole_table_aside(chat: Chat, tmp_path: Path) -> None:
    """One saved message DynamoDB refuses (its key of the wrong type): none of that
    table's items are restored, all of them are kept aside, the rooms are restored."""
    state = chat.copy(tmp_path)
    rooms_before = saved.keys(state, ROOMS)
    messages = saved.record(state, MESSAGES)
    messages["items"][-1]["roomId"] = {"N": "1"}
    saved.replace(state, MESSAGES, messages)
    running = saved.serve(state)
    try:
        line = saved.restored_line(running)
        count = len(messages["items"])
        assert f"ChatMessages: DynamoDB refused item {count} of {count}" in line
        assert "Type mismatch" in line
        with user(running, chat.key) as alice:
            assert rooms(alice) == [chat.room]
            assert texts(alice, chat.room) == []  # all of the table, or none of it
    finally:
        saved.stop(running)
    assert saved.keys(state, ROOMS) == rooms_before
    [(aside, why)] = saved.refused(state).items()
    assert json.loads(aside.read_text())["tables"][MESSAGES] == messages
    assert "DynamoDB refused item" in why


def cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def another_format(path: Path) -> None:
    path.write_text(json.dumps(json.loads(path.read_text()) | {"format": 99}))


def changed_key(state: Path) -> None:
    messages = saved.record(state, MESSAGES)
    messages["schema"]["keys"][1][2] = "N"  # as if the sort key had been a number
    saved.replace(state, MESSAGES, messages)


@pytest.mark.parametrize("damage", ["cut in half", "another format", "a changed key"])
def test_a_refused_file_is_kept_aside_and_never_overwritten(
    chat: Chat, tmp_path: Path, damage: str
) -> None:
    """A saved file the start can't use is moved aside with its reason, and the next
    stop (which saves) leaves it as it was."""
    state = chat.copy(tmp_path)
    if damage == "a changed key":
        changed_key(state)
        kept = saved.record(state, MESSAGES)
    else:
        (cut if damage == "cut in half" else another_format)(saved.holder(state, MESSAGES))
        kept = saved.holder(state, MESSAGES).read_bytes()
    running = saved.serve(state)
    try:
        line = saved.restored_line(running)
        assert re.search(r"; moved to \S+ \(kept until --fresh\)", line), line
        with user(running, chat.key) as alice:
            create_room(alice, "New")  # something to save at the stop
    finally:
        saved.stop(running)
    [(aside, why)] = saved.refused(state).items()
    if damage == "a changed key":
        assert json.loads(aside.read_text())["tables"][MESSAGES] == kept
        assert "ChatMessages: its key changed (roomId HASH (S), sk RANGE (N) →" in why
    else:
        assert aside.read_bytes() == kept
        assert ("not JSON, cut short" if damage == "cut in half" else "format 99") in why
    assert "until you start with --fresh" in why


def test_closing_the_terminal_stops_cleanly_and_saves(chat: Chat, tmp_path: Path) -> None:
    """SIGHUP, as closing the terminal of ``make local`` sends: the stack stops as on
    Ctrl-C (connections closed, then saved), though nobody reads its output anymore."""
    state = chat.copy(tmp_path)
    with terminal(saved.CHAT, "--state-dir", str(state)) as (process, controller):
        url = wait_for(controller, r"WebSocket API\s+(?P<url>ws://\S+)")["url"]
        alice = ChatClient(url, "Alice", chat.key)
        say(alice, chat.room, "as the terminal closed")
    assert process.wait(timeout=seconds(60)) == 0
    assert "as the terminal closed" in json.dumps(saved.items(state, MESSAGES))
    # Saved after the stop closed Alice's connection ($disconnect marks it closed):
    connections = [c for c in saved.items(state, CONNECTIONS) if "userId" in c]
    assert len(connections) == 2
    assert all("closedAt" in c for c in connections)


@contextmanager
def terminal(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``serve`` in a terminal of its own (a pseudo-terminal it controls), closed on exit."""
    controller, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", *args, "--port", "0"],
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=served.ROOT,
        env=dict(os.environ, PYTHONPATH=str(served.ROOT)),
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(child)
    try:
        yield process, controller
    finally:
        # The terminal is gone: the kernel sends SIGHUP. (Nothing may be reading it
        # then: a blocked read would keep it open.)
        os.close(controller)
        try:
            process.wait(timeout=seconds(60))
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def wait_for(controller: int, pattern: str) -> re.Match[str]:
    """The first line the terminal shows that matches ``pattern``."""
    deadline = time.monotonic() + seconds(60)
    shown = ""
    while (left := deadline - time.monotonic()) > 0:
        if select.select([controller], [], [], left)[0]:
            shown += os.read(controller, 4096).decode(errors="replace")
            if match := re.search(pattern, shown):
                return match
    raise AssertionError(f"no line matching {pattern!r}:\n{shown}")


def test_kill_9_loses_at_most_the_last_seconds(chat: Chat, tmp_path: Path) -> None:
    """kill -9 just after a message: it was saved within seconds, and the next start
    restores it and says how old the snapshot is."""
    state = chat.copy(tmp_path)
    running = saved.serve(state)
    try:
        with user(running, chat.key) as alice:
            say(alice, chat.room, "just before kill -9")
            assert settles(lambda: "just before kill -9" in json.dumps(saved.tables(state)))
    finally:
        saved.kill(running)
    again = saved.serve(state)
    try:
        assert re.search(r", saved \d+ s ago \(\d{4}-\d\d-\d\d ", saved.restored_line(again))
        with user(again, chat.key) as alice:
            assert texts(alice, chat.room) == ["first", "second", "just before kill -9"]
    finally:
        saved.stop(again)


def test_a_kill_between_two_tables_saves_restores_the_previous_moment(
    chat: Chat, tmp_path: Path
) -> None:
    """kill -9 when the save has written the messages but not yet the rooms: the next
    start restores the previous snapshot whole, never the new messages without their room."""
    state = chat.copy(tmp_path)
    hook = tmp_path / "hook"
    running = saved.serve(state, hook=hook)
    try:
        hook.write_text(f"table {MESSAGES}")
        with user(running, chat.key) as alice:
            lost = create_room(alice, "Lost")
            for n in range(5):
                say(alice, lost, f"lost {n}")
        running.wait_for(f"save stopped at table {MESSAGES}")
    finally:
        saved.kill(running)
    assert lost not in json.dumps(saved.tables(state))
    again = saved.serve(state)
    try:
        assert "moved to" not in saved.restored_line(again)
        with user(again, chat.key) as alice:
            assert rooms(alice) == [chat.room]
            assert texts(alice, chat.room) == ["first", "second"]
    finally:
        saved.stop(again)


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Notes:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: notes
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: noteId, AttributeType: S}]
      KeySchema: [{AttributeName: noteId, KeyType: HASH}]
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: notes
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


def test_a_table_that_left_the_stack_keeps_its_data(chat: Chat, tmp_path: Path) -> None:
    """Serve another stack from the chat's state: the chat's tables are named as kept,
    stay in every save, and come back with the chat."""
    state = chat.copy(tmp_path)
    template = tmp_path / "notes" / "template.yaml"
    template.parent.mkdir()
    template.write_text(TEMPLATE)
    rooms_before, messages_before = saved.keys(state, ROOMS), saved.keys(state, MESSAGES)
    notes = saved.serve(state, stack=str(template))
    try:
        line = saved.restored_line(notes)
        for table in (CONNECTIONS, MESSAGES, ROOMS):
            assert f"{table}: no longer in the stack, its data kept in snapshot.json" in line
        dynamodb(notes).put_item(TableName="notes", Item={"noteId": {"S": "n1"}})
        assert settles(lambda: "n1" in json.dumps(saved.items(state, "notes")))
    finally:
        saved.stop(notes)
    assert saved.keys(state, ROOMS) == rooms_before
    assert saved.keys(state, MESSAGES) == messages_before
    again = saved.serve(state)
    try:
        assert "notes: no longer in the stack" in saved.restored_line(again)
        with user(again, chat.key) as alice:
            assert rooms(alice) == [chat.room]
            assert texts(alice, chat.room) == ["first", "second"]
    finally:
        saved.stop(again)


def dynamodb(running: served.Served) -> object:
    """A DynamoDB client on the served stack's AWS endpoint, with the keys it printed."""
    found = running.wait_for(
        r"AWS_ENDPOINT_URL=(?P<url>\S+) AWS_ACCESS_KEY_ID=(?P<key>\S+) "
        r"AWS_SECRET_ACCESS_KEY=(?P<secret>\S+)"
    )
    return boto3.client(
        "dynamodb",
        endpoint_url=found["url"],
        region_name="us-east-1",
        aws_access_key_id=found["key"],
        aws_secret_access_key=found["secret"],
    )


def test_a_failed_start_writes_nothing(chat: Chat, tmp_path: Path) -> None:
    """A start that fails after the restore (the website's port is taken) leaves every
    saved file as it was."""
    state = chat.copy(tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in state.rglob("*") if p.is_file()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        failed = served.start(saved.CHAT, "--state-dir", str(state), "--website-port", port)
        assert failed.process.wait(timeout=seconds(60)) == 1
    failed.drain()
    assert "error: could not start" in failed.output, failed.output
    after = {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in state.rglob("*")
        if p.is_file() and p.name != ".lock"
    }
    assert after == before


def test_two_serves_cannot_share_a_state_directory(chat: Chat, tmp_path: Path) -> None:
    """A second serve on the same state directory refuses to start, in one line, and the
    first one's snapshots stay its own."""
    state = chat.copy(tmp_path)
    first = saved.serve(state)
    try:
        second = served.start(saved.CHAT, "--state-dir", str(state))
        assert second.process.wait(timeout=seconds(60)) == 1
        second.drain()
        assert f"error: {state} is in use by another ws-emulator (pid {first.process.pid})" in (
            second.output
        )
        assert "Traceback" not in second.output
    finally:
        saved.stop(first)


def test_state_saved_by_an_earlier_version_is_restored_then_saved_as_a_snapshot(
    chat: Chat, tmp_path: Path
) -> None:
    """Format 1 (a file per table) is restored, and its files go once a snapshot holds
    their data."""
    state = chat.copy(tmp_path)
    (state / "tables").mkdir()
    for name, table in saved.tables(state).items():
        record = {"format": 1, "table": name, **table}
        (state / "tables" / f"{name}.json").write_text(json.dumps(record))
    (state / saved.SNAPSHOT).unlink()
    running = saved.serve(state)
    try:
        assert re.search(r"restored 3 table\(s\), \d+ item\(s\)", saved.restored_line(running))
        assert settles(lambda: not (state / "tables").exists())
        with user(running, chat.key) as alice:
            assert texts(alice, chat.room) == ["first", "second"]
    finally:
        saved.stop(running)
    assert saved.keys(state, MESSAGES) == saved.keys(chat.state, MESSAGES)
