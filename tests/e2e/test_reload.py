"""``serve --watch``: edits apply while clients stay connected; Ctrl-C is one line.

Each test serves a copy of a fixture app from tests/fixtures/templates/ and edits it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests import served
from tests.e2e.test_templates import TEMPLATES, jwt
from tests.timing import seconds


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(TEMPLATES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_a_code_change_takes_effect_while_the_client_stays_connected(tmp_path: Path) -> None:
    """Edit the handler: the same open socket's next message runs the new code."""
    app = copy("sam-framework", tmp_path)
    template = str(app / "template.yaml")
    with served.serving(template, "--watch", "--parameter-overrides", "Greeting=hi") as running:
        running.wait_for("Watching")
        with connect(f"{running.url}?name=ann") as ws:
            ws.send("before")
            assert json.loads(ws.recv(timeout=seconds(15)))["echo"] == "before"
            edit(app / "app" / "app.py", '"echo": text', '"echo": text[::-1]')
            line = running.wait_for(r"↻ app\.py changed: (?P<what>.*)")["what"]
            assert "updated sam-framework-WebsocketMessage-" in line
            ws.send("after")
            assert json.loads(ws.recv(timeout=seconds(15)))["echo"] == "retfa"
        # The connection opened before the edit was never dropped: its $disconnect ran
        # on the new code too, and nothing failed.
        assert "failed" not in running.output


def test_a_new_requirements_file_rebuilds_the_function(tmp_path: Path) -> None:
    """The authorizer can't import jwt until its requirements.txt appears; then it can."""
    app = copy("sam-auth", tmp_path)
    requirements = app / "authorizer" / "requirements.txt"
    wanted = requirements.read_text()
    requirements.unlink()
    template = str(app / "template.yaml")
    with served.serving(template, "--watch", "--parameter-overrides", "SigningKey=k") as running:
        running.wait_for("Watching")
        token = jwt("k", "ann")
        with pytest.raises(InvalidStatus) as failed:
            connect(f"{running.url}?token={token}")
        assert failed.value.response.status_code == 500
        requirements.write_text(wanted)
        line = running.wait_for(r"↻ requirements\.txt changed: (?P<what>.*)", timeout=120)["what"]
        assert "AuthorizeFunction" in line
        with connect(f"{running.url}?token={token}") as ws:
            ws.send(json.dumps({"op": "note", "text": "now it works"}))
            assert json.loads(ws.recv(timeout=seconds(15)))["stored"] == "now it works"


def test_a_route_added_to_the_template_is_served_in_place(tmp_path: Path) -> None:
    """A new route in the template is deployed and routed on the connection already open;
    a template AWS would refuse is one line, and the stack keeps serving."""
    app = copy("cfn-rooms", tmp_path)
    template = app / "template.yaml"
    new_route = (
        "  HistoryRoute:\n"
        "    Type: AWS::ApiGatewayV2::Route\n"
        "    Properties:\n"
        "      ApiId: !Ref RoomsApi\n"
        "      RouteKey: KEY\n"
        "      Target: !Sub integrations/${RoomsIntegration}\n"
        "  HistoryResponse:\n"
        "    Type: AWS::ApiGatewayV2::RouteResponse\n"
        "    Properties: {ApiId: !Ref RoomsApi, RouteId: !Ref HistoryRoute, "
        "RouteResponseKey: $default}\n"
        "  RecentResponse:"
    )
    target = "\n      Target: !Sub integrations/${RoomsIntegration}\n  HistoryResponse"
    with (
        served.serving(str(template), "--watch") as running,
        connect(f"{running.url}?room=a") as ws,
    ):
        running.wait_for("Watching")
        # Before: no such route, so the frame reaches $default (which wants base64).
        ws.send(json.dumps({"action": "history", "since": 0}))
        assert json.loads(ws.recv(timeout=seconds(15)))["message"] == "Internal server error"
        edit(template, "  RecentResponse:", new_route.replace("KEY", "recent"))
        refused = running.wait_for(r"↻ template\.yaml changed, not applied: (?P<why>.*)")
        assert "two routes are named 'recent'" in refused["why"]
        edit(template, f"RouteKey: recent{target}", f"RouteKey: history{target}")
        applied = running.wait_for(r"↻ template\.yaml changed: (?P<what>.*)")["what"]
        assert "created route history" in applied
        ws.send(json.dumps({"action": "history", "since": 0}))
        assert json.loads(ws.recv(timeout=seconds(15))) == {"room": "a", "messages": []}


def test_a_key_change_is_explained_and_the_stack_keeps_serving(tmp_path: Path) -> None:
    """A table's key can't change in place: one line says so; nothing else changes."""
    app = copy("cfn-rooms", tmp_path)
    template = app / "template.yaml"
    with served.serving(str(template), "--watch") as running:
        running.wait_for("Watching")
        edit(
            template,
            "{AttributeName: sentAt, AttributeType: N}",
            "{AttributeName: sentAt, AttributeType: S}",
        )
        why = running.wait_for(r"↻ template\.yaml changed, not applied: (?P<why>.*)")["why"]
        assert (
            "exists with another key schema (room S + sentAt N, the stack wants room S + sentAt S)"
            in why
        )
        with connect(f"{running.url}?room=a") as ws:
            ws.send(json.dumps({"action": "recent", "since": 0}))
            assert json.loads(ws.recv(timeout=seconds(15))) == {"room": "a", "messages": []}


def test_ctrl_c_stops_everything_with_one_line() -> None:
    """Ctrl-C with a client connected and warm workers: one line, exit 0,
    no traceback, and no worker process left behind."""
    template = str(TEMPLATES / "sam-framework" / "template.yaml")
    running = served.start(template, "--parameter-overrides", "Greeting=hi")
    workdir = Path(running.wait_for(r"Function logs\s+(?P<dir>\S+)/logs/")["dir"])
    running.wait_for("Press Ctrl-C to stop.")
    with connect(f"{running.url}?name=ann") as ws:
        ws.send("warm up")
        ws.recv(timeout=seconds(15))
        banner_end = len(running.lines)
        assert running.stop() == 0
    after = [line for line in running.lines[banner_end:] if line.strip()]
    assert after == ["Stopping… stopped."], after
    assert _processes_mentioning(str(workdir)) == []


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text``."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended while we looked
        if text in command:
            found.append(command)
    return found
