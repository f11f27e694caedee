"""``make local`` keeps its data across a restart; ``FRESH=1`` starts empty."""

from __future__ import annotations

import json
import secrets
import signal
from pathlib import Path

from tests import served
from tests.client import ChatClient
from tests.e2e.chat import create_room, say


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


def stop(running: served.Served) -> None:
    """Ctrl-C: the emulator stops cleanly; make itself reports the interrupt by dying of it."""
    assert running.stop() in (0, -signal.SIGINT), running.output
    assert running.lines[-1] == "Stopping… stopped.", running.output
    assert "Traceback" not in running.output


def test_rooms_and_messages_survive_a_restart(tmp_path: Path) -> None:
    """A room and its messages are there after Ctrl-C and a new make local."""
    key = secrets.token_hex(16)
    first = make_local(tmp_path)
    try:
        alice = ChatClient(first.url, "Alice", key)
        room = create_room(alice, "Kept")
        say(alice, room, "still here?")
        alice.close()
    finally:
        stop(first)
    assert "Tables are kept in" in first.output

    second = make_local(tmp_path)
    try:
        assert second.wait_for(r"restored 3 table\(s\), (?P<n>\d+) item\(s\)")["n"] != "0"
        alice = ChatClient(second.url, "Alice", key)
        rooms = alice.request("listRooms", expect="rooms")["rooms"]
        assert [r["roomId"] for r in rooms] == [room]
        history = alice.request("getHistory", expect="history", roomId=room)["messages"]
        assert [m["text"] for m in history if m.get("kind", "text") == "text"] == ["still here?"]
        alice.close()
    finally:
        stop(second)

    fresh = make_local(tmp_path, "FRESH=1")
    try:
        assert fresh.wait_for(r"restored (?P<n>\d+) table")["n"] == "0"
        alice = ChatClient(fresh.url, "Alice", key)
        assert alice.request("listRooms", expect="rooms")["rooms"] == []
        alice.close()
    finally:
        stop(fresh)


def test_state_that_no_longer_fits_is_not_restored_and_says_why(tmp_path: Path) -> None:
    """A saved table whose key differs from the deployed one is left out, in one line."""
    first = make_local(tmp_path)
    stop(first)
    saved = next((tmp_path / "state" / "tables").glob("*Messages.json"))
    record = json.loads(saved.read_text())
    record["schema"]["keys"][1][2] = "N"  # as if the sort key had been a number
    saved.write_text(json.dumps(record))
    second = make_local(tmp_path)
    try:
        line = second.wait_for(r"restored .*")[0]
        assert "ChatMessages: its key changed" in line
        assert "start with --fresh to drop it" in line
    finally:
        stop(second)
