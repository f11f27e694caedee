"""``python -m emulator serve`` on templates of several shapes, driven by real clients.

Each fixture under tests/fixtures/templates/ is a small app written the way people
write WebSocket handlers for AWS, with its own template: pure CloudFormation, SAM with
Globals, SAM's WebSocketApi with an authorizer whose code has a requirements.txt, and
Powertools. The handlers reach @connections at the API's AWS hostname however they
build it: from domainName and stage, from apiId and AWS_REGION, or from a variable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests import served
from tests.timing import seconds

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"


def jwt(key: str, subject: str) -> str:
    """An HS256 JSON Web Token, made by hand so the test needs no JWT library."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signed = f"{header}.{part(json.dumps({'sub': subject}).encode())}"
    signature = hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{part(signature)}"


def test_pure_cloudformation_rooms() -> None:
    """Routes, a Number range key, one function for four routes, a two-way route, and a
    CONVERT_TO_BINARY $default, from a template with no SAM in it."""
    with served.serving(str(TEMPLATES / "cfn-rooms" / "template.yaml")) as app:
        assert "note: Alarms (AWS::SNS::Topic): not emulated, skipped" in app.output
        url = app.url
        assert url.endswith("/dev")
        with (
            connect(f"{url}?room=a") as ann,
            connect(f"{url}?room=a") as bob,
            connect(f"{url}?room=b") as cy,
        ):
            ann.send(json.dumps({"action": "say", "text": "hello a"}))
            for ws in (ann, bob):
                said = json.loads(ws.recv(timeout=seconds(15)))
                assert said["room"] == "a"
                assert said["text"] == "hello a"
            ann.send(json.dumps({"action": "recent", "since": said["sentAt"] - 1}))
            recent = json.loads(ann.recv(timeout=seconds(15)))
            assert recent == {
                "room": "a",
                "messages": [{"text": "hello a", "sentAt": said["sentAt"]}],
            }
            cy.send(json.dumps({"action": "recent", "since": 0}))
            assert json.loads(cy.recv(timeout=seconds(15))) == {"room": "b", "messages": []}
            cy.send(base64.b64encode(b"\x00\xff\x10\x20raw").decode())
            counted = json.loads(cy.recv(timeout=seconds(15)))
            assert counted == {"isBase64Encoded": True, "size": 7, "first": "00ff1020"}


def test_sam_with_globals_and_an_api_id_endpoint() -> None:
    """Globals reach every function; a handler that builds https://{apiId}.execute-api.
    {region}.amazonaws.com/{stage} from the event and AWS_REGION posts and closes."""
    template = str(TEMPLATES / "sam-framework" / "template.yaml")
    missing = served.start(template)
    assert missing.process.wait(timeout=seconds(60)) == 1
    missing.drain()
    assert "error: parameter Greeting has no default" in missing.output
    assert "Traceback" not in missing.output

    with served.serving(template, "--parameter-overrides", "Greeting=ahoy") as app:
        with connect(f"{app.url}?name=ann") as ws:
            ws.send("just text, not JSON")
            assert json.loads(ws.recv(timeout=seconds(15))) == {
                "greeting": "ahoy",
                "to": "ann",
                "echo": "just text, not JSON",
            }
            ws.send("bye")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=seconds(15))
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000


def test_sam_websocket_api_with_an_authorizer_that_has_requirements() -> None:
    """SAM's WebSocketApi; the authorizer imports PyJWT from its requirements.txt; the
    handler posts to the endpoint the template put in CALLBACK_URL."""
    template = str(TEMPLATES / "sam-auth" / "template.yaml")
    with served.serving(template, "--parameter-overrides", "SigningKey=k3y") as app:
        url = app.url
        with pytest.raises(InvalidStatus) as missing:
            connect(url)
        assert missing.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as forged:
            connect(f"{url}?token={jwt('not-the-key', 'eve')}")
        assert forged.value.response.status_code == 403
        with connect(f"{url}?token={jwt('k3y', 'ann')}") as ws:
            ws.send(json.dumps({"op": "note", "text": "buy milk"}))
            assert json.loads(ws.recv(timeout=seconds(15))) == {"stored": "buy milk", "by": "ann"}


def test_a_missing_dependency_fails_locally_as_on_aws(tmp_path: Path) -> None:
    """Without its requirements.txt the authorizer can't import jwt, even though the
    emulator's own environment might have it: the upgrade fails with 500."""
    copy = tmp_path / "app"
    shutil.copytree(TEMPLATES / "sam-auth", copy)
    (copy / "authorizer" / "requirements.txt").unlink()
    with served.serving(
        str(copy / "template.yaml"), "--parameter-overrides", "SigningKey=k"
    ) as app:
        with pytest.raises(InvalidStatus) as failed:
            connect(f"{app.url}?token={jwt('k', 'ann')}")
        assert failed.value.response.status_code == 500
        first = app.wait_for(r"the authorizer: .* failed: (?P<error>.*)")
        assert first["error"] == "Runtime.ImportModuleError: No module named 'jwt'"
        log = Path(app.wait_for(r"^\s+log: (?P<path>\S+)")["path"])
        assert "No module named 'jwt'" in log.read_text()


def test_a_powertools_handler() -> None:
    """A handler using Powertools' data class and Logger, installed from requirements.txt."""
    with served.serving(str(TEMPLATES / "powertools" / "template.yaml")) as app:
        with connect(app.url) as ws:
            ws.send(json.dumps({"action": "shout", "text": "quiet please"}))
            assert ws.recv(timeout=seconds(15)) == "QUIET PLEASE"
        # Powertools' Logger writes JSON lines: the handler's own output is shown.
        line = app.wait_for(r'\{.*"message": ?"shouting".*\}').group(0)
        assert json.loads(line[line.index("{") :])["service"] == "shouter"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources: {}", "no WebSocket API"),
        (
            "Resources:\n  A: {Type: AWS::ApiGatewayV2::Api, Properties: "
            "{ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.a}}\n"
            "  B: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref A, RouteKey: x, "
            "Target: !Ref Nowhere}}",
            "Ref 'Nowhere': no parameter or resource has that name",
        ),
        ("Resources: [", "template.yaml:2: did not find expected node content"),
    ],
)
def test_a_broken_template_is_one_line(tmp_path: Path, body: str, message: str) -> None:
    """A template the emulator can't run exits 1 with one line saying why."""
    template = tmp_path / "template.yaml"
    template.write_text(body)
    app = served.start(str(template))
    assert app.process.wait(timeout=seconds(60)) == 1
    app.drain()
    errors = [line for line in app.lines if line.startswith("error:")]
    assert len(errors) == 1, app.output
    assert message in errors[0]
    assert "Traceback" not in app.output


def test_a_package_with_its_own_boto3_gets_it_not_the_runtimes(tmp_path: Path) -> None:
    """As on Lambda, a boto3 inside the function's package wins over the runtime's (so
    that function's workers are not forked from the preloaded template process)."""
    (tmp_path / "src" / "boto3").mkdir(parents=True)
    (tmp_path / "src" / "boto3" / "__init__.py").write_text('__version__ = "0.0-bundled"\n')
    (tmp_path / "src" / "app.py").write_text(
        "import boto3\n\n\ndef handler(event, context):\n"
        "    return {'statusCode': 200, 'body': boto3.__version__}\n"
    )
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn: {Type: AWS::Serverless::Function, Properties: "
        "{CodeUri: src/, Handler: app.handler, Runtime: python3.12}}\n"
        "  Api:\n"
        "    Type: AWS::Serverless::WebSocketApi\n"
        "    Properties:\n"
        "      RouteSelectionExpression: $request.body.action\n"
        "      Routes: {version: {FunctionArn: !GetAtt Fn.Arn}}\n"
        "  VersionResponse:\n"
        "    Type: AWS::ApiGatewayV2::RouteResponse\n"
        "    Properties: {ApiId: !Ref Api, RouteId: !Ref ApiVersionRoute, "
        "RouteResponseKey: $default}\n"
    )
    with served.serving(str(tmp_path / "template.yaml")) as app, connect(app.url) as ws:
        ws.send(json.dumps({"action": "version"}))
        assert ws.recv(timeout=seconds(15)) == "0.0-bundled"


def test_a_failed_requirements_install_says_what_pip_said(tmp_path: Path) -> None:
    """A requirement whose build fails: the one error line names it and gives the build's
    own error, not pip's closing "See above" (nothing is fetched: its backend is in-tree)."""
    broken = tmp_path / "src" / "broken"
    broken.mkdir(parents=True)
    (broken / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    (broken / "backend.py").write_text(
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    raise RuntimeError('broken needs the libfoo headers')\n"
    )
    (tmp_path / "src" / "requirements.txt").write_text("./broken\n")
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn: {Type: AWS::Serverless::Function, Properties: "
        "{CodeUri: src/, Handler: app.handler, Runtime: python3.12}}\n"
        "  Api:\n"
        "    Type: AWS::Serverless::WebSocketApi\n"
        "    Properties:\n"
        "      RouteSelectionExpression: $request.body.action\n"
        "      Routes: {go: {FunctionArn: !GetAtt Fn.Arn}}\n"
    )
    app = served.start(str(tmp_path / "template.yaml"), env={"XDG_CACHE_HOME": str(tmp_path)})
    assert app.process.wait(timeout=seconds(120)) == 1
    app.drain()
    errors = [line for line in app.lines if line.startswith("error:")]
    assert len(errors) == 1, app.output
    assert "function Fn: pip could not install" in errors[0]
    assert "Processing ./broken" in errors[0]
    assert "RuntimeError: broken needs the libfoo headers" in errors[0]
    assert "Traceback" not in app.output
