"""``python -m emulator serve`` on what the real packaging tools wrote, unmodified.

Each project under tests/fixtures/templates/ was packaged by its tool at a pinned
version (``rebuild.sh`` there does it again): a TypeScript CDK app (``cdk synth``), a
Serverless Framework v3 service (``serverless package``), a Chalice app (``chalice
package``) and a function with a dependency (``sam build``). The tests serve the tools'
output as it is and drive it with real WebSocket clients.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests import served
from tests.timing import seconds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[served.Served]:
    """A served stack for the length of a ``with``, stopped with Ctrl-C after."""
    app = served.start(*args, env=env)
    try:
        assert app.url  # ready, or the failure with the output
        yield app
    finally:
        assert app.stop() == 0, app.output


def receive(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=seconds(15)))


def broadcast_round(app: served.Served) -> None:
    """Three clients connect; a broadcast reaches all three; after one leaves and its
    $disconnect has run, the next broadcast reaches the two left, and counts two."""
    with (
        connect(f"{app.url}?name=ann") as ann,
        connect(f"{app.url}?name=bob") as bob,
        connect(f"{app.url}?name=cy") as cy,
    ):
        ann.send(json.dumps({"action": "broadcast", "text": "hello all"}))
        for ws in (ann, bob, cy):
            assert receive(ws) == {"from": "ann", "text": "hello all", "recipients": 3}
        cy.close()
        app.wait_for(r"disconnected \S+")
        bob.send(json.dumps({"action": "broadcast", "text": "just us"}))
        for ws in (ann, bob):
            assert receive(ws) == {"from": "bob", "text": "just us", "recipients": 2}


def test_a_cdk_cloud_assembly() -> None:
    """`serve cdk.out`: functions from a CDK folder asset, a zip-file asset and inline code;
    TableV2's global table; custom resources and their providers skipped in one line each."""
    with serving(str(FIXTURES / "cdk-app" / "cdk.out")) as app:
        assert app.url.endswith("/dev")
        for custom in ("Custom::LogRetention", "Custom::S3AutoDeleteObjects"):
            assert f"({custom}): a custom resource; its provider is not run locally" in app.output
        providers = [line for line in app.lines if "the provider of custom resource" in line]
        assert len(providers) == 2, app.output
        assert "AWS::CDK::Metadata" not in app.output
        assert "GlobalTable" not in app.output  # served, so not reported
        broadcast_round(app)
        with connect(app.url) as ws:  # $default, inline code, a two-way route
            ws.send("not json")
            assert "broadcast" in receive(ws)["error"]


def test_a_serverless_framework_package() -> None:
    """The template `serverless package` leaves in .serverless/, with the service's zip
    beside it (the function's S3Key names it); replies built from domainName and stage."""
    template = (
        FIXTURES / "serverless-app" / ".serverless" / "cloudformation-template-update-stack.json"
    )
    with serving(str(template)) as app:
        assert app.url.endswith("/dev")
        notes = [line for line in app.output.splitlines() if "note:" in line]
        # versions, bucket policy, log groups: accepted; only the runtime's age (which
        # depends on today's date) may be noted
        assert all("is deprecated on Lambda" in note for note in notes), notes
        broadcast_round(app)
        with connect(app.url) as ws:  # $default with a route response
            ws.send(json.dumps({"action": "dance"}))
            assert receive(ws) == {"error": "unknown action"}


def test_a_chalice_package() -> None:
    """Chalice's sam.json with CodeUri ./deployment.zip (the app and Chalice's runtime);
    Chalice builds its @connections endpoint from apiId and AWS_REGION."""
    with serving(str(FIXTURES / "chalice-app" / "out" / "sam.json")) as app:
        assert app.url.endswith("/api")
        broadcast_round(app)


def test_a_sam_build_output_is_not_installed_again(tmp_path: Path) -> None:
    """`sam build` already installed the function's requirements into its folder: serving
    its template installs nothing (pip has no index here and an empty cache) and the
    dependency is imported from the built folder."""
    template = FIXTURES / "sam-build" / ".aws-sam" / "build" / "template.yaml"
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "XDG_CACHE_HOME": str(tmp_path)}
    with serving(str(template), env=offline) as app, connect(app.url) as ws:
        ws.send(json.dumps({"action": "shout", "text": "hello"}))
        assert ws.recv(timeout=seconds(15)) == "HELLO!"
    assert not (tmp_path / "ws-emulator" / "dependencies").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cdk-app/cdk.out", "--stack", "Nope"], "has no such stack (its stacks: CdkBroadcast)"),
        (["cdk-app/cdk.out", "--stack", "CdkBroadcast", "--api", "X"], "--api X: the template"),
        (["cdk-app", "--stack", "CdkBroadcast"], "cdk-app is a folder: give a template file"),
    ],
)
def test_cloud_assembly_choices_are_one_line(args: list[str], message: str) -> None:
    """A wrong --stack, or a folder that is no cloud assembly, exits 1 with one line."""
    app = served.start(str(FIXTURES / args[0]), *args[1:])
    assert app.process.wait(timeout=seconds(60)) == 1
    app.drain()
    errors = [line for line in app.lines if line.startswith("error:")]
    assert len(errors) == 1, app.output
    assert message in errors[0]
    assert "Traceback" not in app.output


def test_packaging_again_while_watching_serves_the_new_zip(tmp_path: Path) -> None:
    """With --watch, a zip the tool writes again (chalice package, same sam.json) is read
    again: the open connection's next message runs the new code."""
    out = tmp_path / "out"
    shutil.copytree(FIXTURES / "chalice-app" / "out", out)
    archive = out / "deployment.zip"
    with zipfile.ZipFile(archive) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    with serving(str(out / "sam.json"), "--watch") as app:
        app.wait_for("Watching")
        with connect(f"{app.url}?name=ann") as ws:
            ws.send(json.dumps({"text": "before"}))
            assert receive(ws)["text"] == "before"
            app_py = files["app.py"].decode()
            assert '"text": request.get("text", "")' in app_py
            files["app.py"] = app_py.replace(
                '"text": request.get("text", "")', '"text": request.get("text", "").upper()'
            ).encode()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
                for name, data in files.items():
                    bundle.writestr(name, data)
            line = app.wait_for(r"↻ deployment\.zip changed: (?P<what>.*)")["what"]
            assert "updated" in line
            ws.send(json.dumps({"text": "after"}))
            assert receive(ws)["text"] == "AFTER"
