"""Functions on Lambda's other runtimes, served by ``python -m emulator serve``.

Node.js handlers (an ES module chat in the style of AWS's sample, a CommonJS app with
callbacks and a package.json dependency), a custom runtime's bash ``bootstrap``, each
``python3.X`` on its own interpreter, and runtimes the emulator doesn't run, driven by
real WebSocket clients. Node.js and custom runtimes speak the Lambda Runtime API to
the runner; the SDK and node_modules are the ones Lambda would have.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.client import ClientConnection, connect

from emulator import nodejs
from emulator.interpreters import Pythons
from emulator.reload import WATCHING
from tests import served
from tests.timing import seconds, settles

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"
INTERNAL_ERROR = "Internal server error"

needs_node = pytest.mark.skipif(nodejs.find_node() is None, reason="Node.js is not installed")


def aws(app: served.Served, service: str) -> Any:
    """A boto3 client for the served stack's account, from what its banner says."""
    line = app.wait_for(
        r"AWS_ENDPOINT_URL=(?P<url>\S+) AWS_ACCESS_KEY_ID=(?P<key>\S+) "
        r"AWS_SECRET_ACCESS_KEY=(?P<secret>\S+)"
    )
    return boto3.client(
        service,
        endpoint_url=line["url"],
        aws_access_key_id=line["key"],
        aws_secret_access_key=line["secret"],
        region_name="us-east-1",
    )


def call(ws: ClientConnection, action: str, **fields: Any) -> Any:
    ws.send(json.dumps({"action": action, **fields}))
    return json.loads(ws.recv(timeout=seconds(30)))


def connection_ids(dynamodb: Any) -> set[str]:
    (table,) = dynamodb.list_tables()["TableNames"]
    items = dynamodb.scan(TableName=table)["Items"]
    return {item["connectionId"]["S"] for item in items}


@needs_node
def test_an_es_module_chat_like_aws_sample() -> None:
    """ES modules on the runtime's SDK v3: every client hears a broadcast, a stale
    connection's 410 deletes it, $disconnect runs; a timeout and a throw give the client
    API Gateway's "Internal server error" and the terminal two lines."""
    with served.serving(str(TEMPLATES / "nodejs-chat" / "template.yaml")) as app:
        dynamodb = aws(app, "dynamodb")
        (table,) = dynamodb.list_tables()["TableNames"]
        with connect(app.url) as ann, connect(app.url) as bob, connect(app.url) as cy:
            dynamodb.put_item(TableName=table, Item={"connectionId": {"S": "gone0000000="}})
            ann.send(json.dumps({"action": "sendmessage", "data": "hello, all"}))
            for ws in (ann, bob, cy):
                assert ws.recv(timeout=seconds(30)) == "hello, all"
            app.wait_for("sent to 3, deleted 1 gone")
            assert "gone0000000=" not in connection_ids(dynamodb)
            cy.close()
            assert settles(lambda: len(connection_ids(dynamodb)) == 2)

            reply = call(ann, "slow")
            assert reply["message"] == INTERNAL_ERROR
            app.wait_for(r"route slow: \S+SlowFunction\S+ failed: timed out after 1 s")
            reply = call(ann, "fail")
            assert reply["message"] == INTERNAL_ERROR
            failed = app.wait_for(r"route fail: \S+ failed: (?P<error>.*)")
            assert failed["error"] == "TypeError: no such room"
            log = Path(app.wait_for(r"^\s+log: (?P<path>\S+FailFunction\S+)")["path"])
            assert "[ERROR] TypeError: no such room" in log.read_text()
            # Still serving: the failures took their own workers only.
            ann.send(json.dumps({"action": "sendmessage", "data": "still here"}))
            assert bob.recv(timeout=seconds(30)) == "still here"
    assert "Traceback" not in app.output, app.output


@needs_node
def test_a_node_handler_reloads_while_clients_stay_connected(tmp_path: Path) -> None:
    """With --watch, saving sendmessage/app.mjs gives the next broadcast the new code,
    on the same open sockets."""
    copy = tmp_path / "chat"
    shutil.copytree(TEMPLATES / "nodejs-chat", copy)
    with served.serving(str(copy / "template.yaml"), "--watch") as app:
        app.wait_for(re.escape(WATCHING))
        with connect(app.url) as ann, connect(app.url) as bob:
            ann.send(json.dumps({"action": "sendmessage", "data": "before"}))
            assert [ws.recv(timeout=seconds(30)) for ws in (ann, bob)] == ["before"] * 2
            handler = copy / "sendmessage" / "app.mjs"
            source = handler.read_text()
            handler.write_text(source.replace("Data: data", "Data: `${data}, edited`"))
            app.wait_for(r"↻ app.mjs changed: updated \S+SendMessage")
            bob.send(json.dumps({"action": "sendmessage", "data": "after"}))
            assert [ws.recv(timeout=seconds(30)) for ws in (ann, bob)] == ["after, edited"] * 2


@needs_node
def test_commonjs_callbacks_and_package_json_dependencies() -> None:
    """CommonJS: a callback handler in a subfolder posts through apiId + AWS_REGION with
    a dependency package.json installed; an async one through a template variable. The
    Node.js version and the deprecated nodejs18.x are each said in one line."""
    node = nodejs.find_node()
    assert node is not None
    with served.serving(str(TEMPLATES / "nodejs-commonjs" / "template.yaml")) as app:
        if node.major != 22:
            assert f"note: nodejs22.x functions run on Node.js {node.version}" in app.output
        assert "note: nodejs18.x is deprecated on Lambda since 2025-09-01" in app.output
        with connect(app.url) as ws:
            reply = call(ws, "echo", text="ahoy")
            assert reply["echo"] == "ahoy"
            assert re.fullmatch(r"\d+s", reply["left"]), reply  # from `ms`
            assert reply["runtime"] == "AWS_Lambda_nodejs22.x"
            assert call(ws, "announce", text="news") == {"announced": "news"}


@needs_node
def test_a_missing_npm_dependency_fails_as_on_aws(tmp_path: Path) -> None:
    """Without the dependency in package.json, require('ms') fails in the function, even
    if the machine has it somewhere: Runtime.ImportModuleError, one line."""
    copy = tmp_path / "app"
    shutil.copytree(TEMPLATES / "nodejs-commonjs", copy)
    manifest = copy / "src" / "package.json"
    manifest.write_text(manifest.read_text().replace('"ms": "2.1.3"', ""))
    with served.serving(str(copy / "template.yaml")) as app, connect(app.url) as ws:
        assert call(ws, "echo", text="x")["message"] == INTERNAL_ERROR
        failed = app.wait_for(r"route echo: \S+ failed: (?P<error>.*)")
        assert failed["error"].startswith(
            "Runtime.ImportModuleError: Error: Cannot find module 'ms'"
        )


def test_a_custom_runtime_bash_bootstrap() -> None:
    """provided.al2023: the function's bootstrap runs its handler with the Runtime API;
    its answer goes back through the route response, its failure as API Gateway's."""
    template = str(TEMPLATES / "custom-runtime" / "template.yaml")
    with served.serving(template) as app, connect(app.url) as ws:
        assert call(ws, "echo", text='héllo "quoted"') == {
            "action": "echo",
            "text": 'héllo "quoted"',
        }
        assert call(ws, "broken")["message"] == INTERNAL_ERROR
        failed = app.wait_for(r"route broken: \S+ failed: (?P<error>.*)")
        assert failed["error"] == "HandlerFailed: broken failed"
        app.wait_for("about to fail")
        assert call(ws, "echo", text="again")["text"] == "again"


def _app(root: Path, runtimes: dict[str, str], code: str) -> Path:
    """A SAM app: one function per runtime (logical id → runtime), each on its own
    two-way route named after its logical id in lower case."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(code)
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    routes = []
    for logical_id, runtime in runtimes.items():
        lines.append(
            f"  {logical_id}: {{Type: AWS::Serverless::Function, Properties: "
            f"{{CodeUri: src/, Handler: app.handler, Runtime: {runtime}}}}}"
        )
        routes.append(f"{logical_id.lower()}: {{FunctionArn: !GetAtt {logical_id}.Arn}}")
    lines += [
        "  Api:",
        "    Type: AWS::Serverless::WebSocketApi",
        "    Properties:",
        "      RouteSelectionExpression: $request.body.action",
        f"      Routes: {{{', '.join(routes)}}}",
    ]
    for logical_id in runtimes:
        lines.append(
            f"  {logical_id}Response: {{Type: AWS::ApiGatewayV2::RouteResponse, Properties: "
            f"{{ApiId: !Ref Api, RouteId: !Ref Api{logical_id.capitalize()}Route, "
            "RouteResponseKey: $default}}"
        )
    (root / "template.yaml").write_text("\n".join(lines) + "\n")
    return root / "template.yaml"


VERSION_HANDLER = """import sys


def handler(event, context):
    return {"statusCode": 200, "body": "%d.%d" % sys.version_info[:2]}
"""

PYTHON_312_HANDLER = """import sys

type Reply = dict[str, object]  # a type alias statement: Python 3.12 and later only


def handler(event, context) -> Reply:
    return {"statusCode": 200, "body": "%d.%d" % sys.version_info[:2]}
"""


def test_other_runtimes_are_refused_in_one_line_and_the_rest_serves(tmp_path: Path) -> None:
    """A java21 and a ruby3.3 function: one line each at start-up; their routes answer
    "Internal server error", and the Python function beside them serves."""
    template = _app(
        tmp_path, {"Py": "python3.12", "Jv": "java21", "Rb": "ruby3.3"}, VERSION_HANDLER
    )
    with served.serving(str(template)) as app, connect(app.url) as ws:
        refused = [line for line in app.lines if "is not run locally" in line]
        assert len(refused) == 2, app.output
        assert any("runtime 'java21'" in line and "-Jv-" in line for line in refused)
        assert "the rest of the stack serves" in refused[0]
        ws.send(json.dumps({"action": "py"}))
        assert re.fullmatch(r"3\.\d+", ws.recv(timeout=seconds(30)))
        assert call(ws, "jv")["message"] == INTERNAL_ERROR
        app.wait_for(r"route jv: \S+-Jv-\S+ failed: runtime 'java21' is not run locally")


def test_a_python312_function_runs_on_python312(tmp_path: Path) -> None:
    """A handler in 3.12-only syntax runs, on 3.12 (found on PATH, in pyenv or uv), with
    boto3 installed for it."""
    if Pythons().find((3, 12)) is None:
        pytest.skip("no Python 3.12 on this machine")
    template = _app(tmp_path, {"New": "python3.12"}, PYTHON_312_HANDLER)
    with served.serving(str(template)) as app, connect(app.url) as ws:
        ws.send(json.dumps({"action": "new"}))
        assert ws.recv(timeout=seconds(60)) == "3.12"
        assert "functions run on Python" not in app.output  # no fallback


def test_a_missing_python_version_is_said_once_and_the_emulators_runs_it(
    tmp_path: Path,
) -> None:
    """With no Python 3.12 to be found, start-up says which Python runs python3.12
    functions instead, once; python3.8 is said to be deprecated."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    path = "/usr/bin:/bin"
    if shutil.which("python3.12", path=path):
        pytest.skip("this machine has Python 3.12 in /usr/bin")
    template = _app(
        tmp_path / "app", {"A": "python3.12", "B": "python3.12", "C": "python3.8"}, VERSION_HANDLER
    )
    env = {"PATH": path, "PYENV_ROOT": str(empty), "UV_PYTHON_INSTALL_DIR": str(empty)}
    with served.serving(str(template), env=env) as app, connect(app.url) as ws:
        notes = [line for line in app.lines if "python3.12 functions run on Python" in line]
        assert len(notes) == 1, app.output
        own = "{}.{}".format(*sys.version_info[:2])
        assert f"run on Python {own}." in notes[0]
        assert "the emulator's own: no Python 3.12 on PATH, in pyenv or uv" in notes[0]
        assert "note: python3.8 is deprecated on Lambda since 2024-10-14" in app.output
        ws.send(json.dumps({"action": "a"}))
        assert ws.recv(timeout=seconds(30)) == own


def test_a_python_given_with_the_python_option(tmp_path: Path) -> None:
    """--python 3.12=PATH runs python3.12 functions there, found nowhere else; a PATH
    that is another version is a one-line error."""
    found = Pythons().find((3, 12))
    if found is None:
        pytest.skip("no Python 3.12 on this machine")
    empty = tmp_path / "nothing"
    empty.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYENV_ROOT": str(empty), "UV_PYTHON_INSTALL_DIR": str(empty)}
    template = _app(tmp_path / "app", {"New": "python3.12"}, PYTHON_312_HANDLER)
    given = f"3.12={found.executable}"
    with served.serving(str(template), "--python", given, env=env) as app, connect(app.url) as ws:
        ws.send(json.dumps({"action": "new"}))
        assert ws.recv(timeout=seconds(60)) == "3.12"
        assert "functions run on Python" not in app.output
    wrong = served.start(str(template), "--python", f"3.12={sys.executable}", env=env)
    assert wrong.process.wait(timeout=seconds(120)) == 2
    wrong.drain()
    errors = [line for line in wrong.lines if line.startswith("error:")]
    assert errors == [
        f"error: --python 3.12={sys.executable}: that is Python "
        + "{}.{}.{}".format(*sys.version_info[:3])
    ], wrong.output


INLINE_NODE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Role: !GetAtt Role.Arn
@ENVIRONMENT@      Code:
        ZipFile: |
@CODE@  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: inline
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/\
        functions/${Echo.Arn}/invocations"
  Default:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${Integration}
  DefaultResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref Default
      RouteResponseKey: $default
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: dev, AutoDeploy: true}
"""


ECHO_NODE_CODE = """\
          exports.handler = async (event) => ({
            statusCode: 200, body: "inline " + process.version.split(".")[0] + " " + event.body,
          });
"""


def inline_node_template(code: str, environment: str = "") -> str:
    """The template with this inline code (indented as ZipFile's block) and environment."""
    return INLINE_NODE_TEMPLATE.replace("@ENVIRONMENT@", environment).replace("@CODE@", code)


@needs_node
def test_inline_node_code_runs_as_index_js(tmp_path: Path) -> None:
    """A Node.js function's inline Code.ZipFile is its index.js, as CloudFormation writes
    it, so Handler index.handler loads."""
    template = tmp_path / "template.yaml"
    template.write_text(inline_node_template(ECHO_NODE_CODE))
    node = nodejs.find_node()
    assert node is not None
    with served.serving(str(template)) as app, connect(app.url) as ws:
        ws.send("hi")
        assert ws.recv(timeout=seconds(60)) == f"inline v{node.version.split('.')[0]} hi"


PID_NODE_CODE = """\
          exports.handler = async (event) => {
            if (event.body === "slow") await new Promise((done) => setTimeout(done, 1500));
            return { statusCode: 200, body: `${process.pid} ${process.env.GREETING}` };
          };
"""


@needs_node
def test_node_workers_are_warm_concurrent_reported_and_retired(tmp_path: Path) -> None:
    """Runtime API workers behave as Python's do: a warm worker is reused, two frames at
    once run on two workers, each invocation's REPORT line gives its memory, the
    function's own environment reaches it, and an idle worker is retired."""
    template = tmp_path / "template.yaml"
    environment = "      Environment: {Variables: {GREETING: hello}}\n"
    template.write_text(inline_node_template(PID_NODE_CODE, environment))
    logs = tmp_path / "logs"
    served_args = (str(template), "--log-dir", str(logs), "--worker-idle", "3")
    with served.serving(*served_args) as app, connect(app.url) as ann, connect(app.url) as bob:
        ann.send("a")
        first = str(ann.recv(timeout=seconds(60)))
        ann.send("b")
        assert ann.recv(timeout=seconds(30)) == first  # the same warm worker
        pid, greeting = first.split()
        assert greeting == "hello"
        ann.send("slow")
        bob.send("slow")
        both = {str(ann.recv(timeout=seconds(30))), str(bob.recv(timeout=seconds(30)))}
        assert len(both) == 2  # one worker each, at once
        (log,) = logs.glob("*.log")
        assert settles(
            lambda: len(re.findall(r"Max Memory Used: [1-9]\d* MB", log.read_text())) == 4
        )
        pids = [int(pid)] + [int(reply.split()[0]) for reply in both]
        assert settles(lambda: not any(map(served.is_running, pids)), timeout=30)  # --worker-idle 3
