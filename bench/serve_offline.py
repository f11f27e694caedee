"""serverless-offline serving the bench's ``serverless.yml``, with DynamoDB from moto.

    python -m bench.serve_offline NODE_ROOT [--node]   # prints {"url": "ws://127.0.0.1:PORT"}

serverless-offline emulates API Gateway and Lambda but no DynamoDB, so this process
runs moto's threaded server (plain moto: ours embeds it with its connections kept open
and a Query reading its partition alone), creates the table, and starts
``serverless offline`` as its child: the measured tree holds all of it. Its events
carry ``domainName: "localhost"``, so the handler gets ``CONNECTIONS_ENDPOINT``
(serverless-offline's own WebSocket port, where it serves ``@connections``).
``--node`` serves the Node.js handler instead, which serverless-offline runs in its
own process; the AWS SDK for JavaScript comes from NODE_ROOT's node_modules.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from moto.server import ThreadedMotoServer

from bench import processes
from bench.serving import announce, until_stopped
from bench.workload import (
    HANDLER,
    NODE_HANDLER,
    NODE_SERVERLESS_YML,
    SERVERLESS_YML,
    create_connections_table,
)
from emulator.targets import EMULATOR_CREDENTIALS, Target

STARTUP_TIMEOUT = 120


async def main(node_root: Path, node_handler: bool = False) -> None:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb = f"http://{host}:{port}"
    create_connections_table(Target.local(dynamodb, "us-east-1").client("dynamodb"))
    # The service lives beside node_modules, where serverless looks for its plugin.
    service = node_root / ("service-node" if node_handler else "service")
    service.mkdir(exist_ok=True)
    yml = NODE_SERVERLESS_YML if node_handler else SERVERLESS_YML
    shutil.copy(yml, service / "serverless.yml")
    handler = NODE_HANDLER if node_handler else HANDLER
    shutil.copy(handler, service / handler.name)
    http_port, ws_port, lambda_port = (processes.free_port() for _ in range(3))
    env = dict(os.environ)
    env.update(
        {
            "BENCH_CONNECTIONS_ENDPOINT": f"http://127.0.0.1:{ws_port}",
            "BENCH_DYNAMODB_ENDPOINT": dynamodb,
            "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
            # Its Python runner starts `python3` from PATH: this venv's, which has boto3.
            "VIRTUAL_ENV": sys.prefix,
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "SLS_DEPRECATION_DISABLE": "*",
        }
    )
    serverless = node_root / "node_modules" / ".bin" / "serverless"
    command = [str(serverless), "offline", "start", "--host", "127.0.0.1"]
    command += ["--httpPort", str(http_port), "--websocketPort", str(ws_port)]
    command += ["--lambdaPort", str(lambda_port)]
    log = service / "serverless-offline.log"
    log.write_text("")
    # In this process's group: when the bench ends the group, Node's Python runners go too.
    node = processes.launch(command, log, env=env, cwd=service, own_group=False)
    try:
        processes.wait_for_port(ws_port, node, log, STARTUP_TIMEOUT)
        announce({"url": f"ws://127.0.0.1:{ws_port}", "log": str(log)})
        await until_stopped()
    finally:
        processes.stop_child(node)
        moto.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), "--node" in sys.argv[2:]))
