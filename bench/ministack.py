"""MiniStack serving the bench's stack, deployed to it with boto3 as to AWS.

MiniStack is one ASGI process on one port that answers every AWS API; Lambda
functions run in warm worker processes it spawns with its own Python (boto3 comes
from its venv, as Lambda's runtime provides it). WebSocket APIs are served at
``/_aws/execute-api/{apiId}/{stage}`` and ``@connections`` beside them; its events
carry ``domainName: {apiId}.execute-api.localhost`` with no port, which a handler on
this machine can't reach, so the handler gets ``CONNECTIONS_ENDPOINT``.

It also takes CloudFormation, but ``AWS::Serverless`` templates need a packaging
step: the bench makes the same calls a deploy script would, one resource at a time.
"""

from __future__ import annotations

import io
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from bench import processes
from bench.peers import Installed, Unavailable
from bench.workload import (
    CONNECTIONS_TABLE,
    HANDLER,
    MEMORY_MB,
    NODE_HANDLER,
    STAGE,
    TIMEOUT_S,
    create_connections_table,
)
from emulator import nodejs
from emulator.targets import Target

STARTUP_TIMEOUT = 60
ROUTES = {"$connect": "connect", "$disconnect": "disconnect", "broadcast": "broadcast"}
# The Python handler's only (see bench.issue23_echo); ``reply`` is two-way.
ECHO_ROUTES = {"echo": "echo", "reply": "reply"}
TWO_WAY = {"reply"}
ROLE = "arn:aws:iam::000000000000:role/bench-broadcast"


def _package(node: bool) -> bytes:
    """The handler's zip; the Node.js one bundles the AWS SDK for JavaScript, which
    MiniStack's Node.js functions don't otherwise have."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if node:
            archive.write(NODE_HANDLER, NODE_HANDLER.name)
            sdk = nodejs.install_sdk()
            for path in sorted(sdk.rglob("*")):
                if path.is_file() and ".bin" not in path.relative_to(sdk).parts:
                    archive.write(path, f"node_modules/{path.relative_to(sdk).as_posix()}")
        else:
            archive.write(HANDLER, "handler.py")
    return buffer.getvalue()


def deploy(endpoint: str, public: str, node: bool = False) -> str:
    """Create the table, functions and WebSocket API; returns the API id."""

    client = Target.local(endpoint, "us-east-1").client
    create_connections_table(client("dynamodb"))
    apigw = client("apigatewayv2")
    api_id = str(
        apigw.create_api(
            Name="bench-broadcast",
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action",
        )["ApiId"]
    )
    awslambda = client("lambda")
    code = _package(node)
    for route, name in (ROUTES if node else ROUTES | ECHO_ROUTES).items():
        function = awslambda.create_function(
            FunctionName=f"bench-{name}",
            Runtime="nodejs20.x" if node else "python3.12",
            Role=ROLE,
            Handler=f"handler.{name}",
            Code={"ZipFile": code},
            Timeout=TIMEOUT_S,
            MemorySize=MEMORY_MB,
            Environment={
                "Variables": {
                    "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
                    "CONNECTIONS_ENDPOINT": f"{public}/_aws/execute-api/{api_id}/{STAGE}",
                }
            },
        )
        route_to(apigw, api_id, route, str(function["FunctionArn"]), route in TWO_WAY)
    apigw.create_stage(ApiId=api_id, StageName=STAGE, AutoDeploy=True)
    return api_id


def route_to(apigw: Any, api_id: str, route: str, function_arn: str, two_way: bool = False) -> None:
    """The route ``route`` of the API, invoking the function (a Lambda proxy integration);
    ``two_way``, with the ``$default`` route response that sends its result back."""
    integration = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=(
            f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}"
            "/invocations"
        ),
    )
    two_way_settings = {"RouteResponseSelectionExpression": "$default"} if two_way else {}
    created = apigw.create_route(
        ApiId=api_id,
        RouteKey=route,
        Target=f"integrations/{integration['IntegrationId']}",
        **two_way_settings,
    )
    if two_way:
        apigw.create_route_response(
            ApiId=api_id, RouteId=created["RouteId"], RouteResponseKey="$default"
        )


def _wait_ready(endpoint: str, server: subprocess.Popen[str]) -> None:
    """Poll ``/_ministack/ready`` until MiniStack says every service is up."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise Unavailable(f"MiniStack exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_ministack/ready", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(processes.POLL)
    raise Unavailable(f"MiniStack not ready after {STARTUP_TIMEOUT} s")


def start(
    installed: Installed, log: Path, node: bool = False, stack: bool = True
) -> tuple[subprocess.Popen[str], str]:
    """Start MiniStack on a free port and deploy the stack (its Node.js handler with
    ``node``); returns it and the stack's URL, or MiniStack's own without ``stack``."""
    port = processes.free_port()
    # Its functions inherit its environment, where an AWS_* setting of the bench's own
    # (say AWS_ENDPOINT_URL_DYNAMODB) would send their SDK calls past MiniStack.
    env = {
        name: value
        for name, value in processes.python_env().items()
        if not name.startswith("AWS_") and name != "PYTHONPATH"
    }
    env |= {"GATEWAY_PORT": str(port), "LOG_LEVEL": "WARNING"}
    server = processes.launch([str(installed.root / "bin" / "ministack")], log, env=env)
    try:
        processes.wait_for_port(port, server, log, STARTUP_TIMEOUT)
        endpoint = f"http://127.0.0.1:{port}"
        _wait_ready(endpoint, server)
        if not stack:
            return server, endpoint
        try:
            api_id = deploy(endpoint, endpoint, node)
        except Exception as exc:
            raise Unavailable(f"deploy failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        processes.stop(server)
        raise
    return server, f"ws://127.0.0.1:{port}/_aws/execute-api/{api_id}/{STAGE}"
