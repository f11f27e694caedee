"""How fast each kind of worker answers: pipes (Python) against the Runtime API.

    python -m bench.runtimes [--invocations 500] [--rounds 3]

Python functions talk to the runner over pipes (JSON lines); Node.js and custom
runtimes over the Lambda Runtime API (HTTP on loopback). This measures the same echo
handler three ways, through :class:`~emulator.runner.LambdaRunner` itself (no gateway,
no network but loopback):

- ``python3 pipes``: a ``python3.X`` function on the emulator's own interpreter,
  forked from the preloaded template (how Python functions run);
- ``python3 Runtime API``: the same handler behind a small Python runtime client
  (``provided.al2023`` with a Python ``bootstrap``): what Python functions would cost
  if they moved to the Runtime API;
- ``nodejs Runtime API``: the handler in Node.js on our runtime client.

Each round starts a fresh runner: the first invocation is the cold start (a new
process, the handler imported), then ``--invocations`` sequential ones are the warm
latency. Prints the medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from emulator.functions import FunctionSpec
from emulator.interpreters import current
from emulator.runner import LambdaRunner, runtime_library

PYTHON_HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""

NODE_HANDLER = """
export const handler = async (event) => ({ statusCode: 200, body: event.body });
"""

# A minimal Python runtime client: the Runtime API loop, on one kept-alive connection.
PYTHON_BOOTSTRAP = """#!{python} -I
import http.client, json, os, socket, sys
sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
from app import handler
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = http.client.HTTPConnection(host, int(port))
api.connect()
api.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    answer = api.getresponse()
    event = json.loads(answer.read())
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    body = json.dumps(handler(event, None))
    api.request("POST", f"/2018-06-01/runtime/invocation/{{request_id}}/response", body)
    api.getresponse().read()
"""


@dataclass
class Result:
    cold_ms: list[float]
    warm_ms: list[float]

    def line(self, label: str) -> str:
        warm = sorted(self.warm_ms)
        p99 = warm[min(len(warm) - 1, round(0.99 * (len(warm) - 1)))]
        return (
            f"  {label:<22} cold {statistics.median(self.cold_ms):7.1f} ms   "
            f"warm p50 {statistics.median(warm):6.3f} ms   p99 {p99:6.3f} ms   "
            f"{1000 / statistics.mean(warm):7.0f} invocations/s"
        )


def _code(root: Path, kind: str) -> tuple[Path, str, str]:
    """A function's code folder, handler and runtime for ``kind``."""
    folder = root / kind.replace(" ", "-")
    folder.mkdir()
    if kind == "python3 pipes":
        (folder / "app.py").write_text(PYTHON_HANDLER)
        return folder, "app.handler", "python{}.{}".format(*current().minor)
    if kind == "python3 Runtime API":
        (folder / "app.py").write_text(PYTHON_HANDLER)
        bootstrap = folder / "bootstrap"
        bootstrap.write_text(PYTHON_BOOTSTRAP.format(python=sys.executable))
        bootstrap.chmod(0o755)
        return folder, "app.handler", "provided.al2023"
    (folder / "app.mjs").write_text(NODE_HANDLER)
    return folder, "app.handler", "nodejs20.x"


async def _round(root: Path, kind: str, invocations: int) -> tuple[float, list[float]]:
    base = root / f"round-{time.monotonic_ns()}"
    base.mkdir()
    code, handler, runtime = _code(base, kind)
    spec = FunctionSpec(
        name="echo",
        arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
        handler=handler,
        code_dir=code,
        timeout=30,
        memory=128,
        runtime=runtime,
    )
    runner = LambdaRunner(
        {"echo": spec},
        {"AWS_REGION": "us-east-1"},
        runtime_library(root / "library"),
        root / "logs",
    )
    event = {"body": "x" * 100, "requestContext": {"routeKey": "echo"}}
    try:
        started = time.perf_counter()
        await runner.invoke("echo", event)
        cold = (time.perf_counter() - started) * 1000
        warm = []
        for _ in range(invocations):
            started = time.perf_counter()
            await runner.invoke("echo", event)
            warm.append((time.perf_counter() - started) * 1000)
        return cold, warm
    finally:
        await runner.close()


async def measure(kinds: list[str], invocations: int, rounds: int) -> dict[str, Result]:
    results = {kind: Result([], []) for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="bench-runtimes-") as tmp:
        for _ in range(rounds):
            for kind in kinds:  # interleaved, so every kind sees the same machine load
                cold, warm = await _round(Path(tmp), kind, invocations)
                results[kind].cold_ms.append(cold)
                results[kind].warm_ms += warm
    return results


KINDS = ["python3 pipes", "python3 Runtime API", "nodejs Runtime API"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--invocations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(measure(KINDS, args.invocations, args.rounds))
    print(f"{args.rounds} rounds of 1 cold + {args.invocations} warm invocations, each kind:")
    for kind, result in results.items():
        print(result.line(kind))


if __name__ == "__main__":
    main()
