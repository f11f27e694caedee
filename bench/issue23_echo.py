"""Issue 23's echo: one socket sends ``{"action": "echo"}`` and waits for the frame the
handler posts back (bench/broadcast/handler.py's ``echo``), on ours and the peers.

The bound is the same handler called in-process, its one ``post_to_connection`` to the
200-only HTTPS server of :mod:`bench.bound`; it runs in a process of its own:

    python -m bench.issue23_echo bound URL CA COUNT   # prints the latencies, in seconds
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from bench import processes, setups
from bench.peers import Unavailable
from bench.rounds import deselect, interleave, why
from bench.workload import HANDLER

ECHOED = ("ours", "serverless-offline", "ministack")
SETUPS = (*ECHOED, "bound")
ECHO_WARM = 20
ECHO_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3
STARTUP_TIMEOUT = 120
_SETUPS = {s.key: s for s in setups.SETUPS}


@dataclass
class Echo:
    latencies: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    failed: str = ""


async def _open(url: str) -> ClientConnection:
    """Connect; a refused ``$connect`` (a peer's cold start timing out under load: seen
    on MiniStack at load 6) is tried again, up to CONNECT_ATTEMPTS times in all."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return await connect(url, open_timeout=60, ping_interval=None)
        except InvalidStatus:
            if attempt == CONNECT_ATTEMPTS:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def echoes(socket: ClientConnection, count: int, warm: int = 0) -> list[float]:
    """``warm + count`` echoes one after another on ``socket``; the round trips of the
    last ``count``, in seconds."""
    latencies: list[float] = []
    for n in range(warm + count):
        sent_at = time.perf_counter()
        await socket.send(json.dumps({"action": "echo", "data": f"{n} echo"}))
        reply = await asyncio.wait_for(socket.recv(), ECHO_TIMEOUT)
        if reply != f"{n} echo":
            raise ValueError(f"echo {n}: got {reply!r}")
        if n >= warm:
            latencies.append(time.perf_counter() - sent_at)
    return latencies


async def _echo(url: str, count: int) -> list[float]:
    async with await _open(url) as socket:
        return await echoes(socket, count, ECHO_WARM)


def bound_client(url: str, ca: str, count: int) -> list[float]:
    """The handler's ``echo`` called in this process: one boto3 post to the bound server."""
    os.environ.update(
        {
            "CONNECTIONS_ENDPOINT": url,
            "AWS_CA_BUNDLE": ca,
            "CONNECTIONS_TABLE": "unused",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
    )
    spec = importlib.util.spec_from_file_location("bench_echo_handler", HANDLER)
    if spec is None or spec.loader is None:
        raise ValueError(f"can't load {HANDLER}")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    latencies: list[float] = []
    for n in range(ECHO_WARM + count):
        event = {
            "requestContext": {"connectionId": f"c{n}", "domainName": "x", "stage": "bench"},
            "body": json.dumps({"action": "echo", "data": f"{n} echo"}),
        }
        started = time.perf_counter()
        handler.echo(event, None)
        if n >= ECHO_WARM:
            latencies.append(time.perf_counter() - started)
    return latencies


def _bound_round(where: dict[str, Any], count: int) -> list[float]:
    command = processes.python("bench.issue23_echo", "bound", where["url"], where["ca"], str(count))
    done = subprocess.run(
        command, env=processes.python_env(), capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ValueError(f"bound client: {done.stderr.strip().splitlines()[-1:]}")
    return [float(x) for x in json.loads(done.stdout)]


def measure_echo(
    rounds: int,
    count: int,
    workdir: Path,
    say: Callable[[str], None],
    selected: Collection[str] = SETUPS,
) -> dict[str, Echo]:
    """The ``selected`` setups' echo round trips, ``count`` a round, in interleaved rounds."""
    results = {key: Echo() for key in SETUPS}
    deselect(results, lambda key: key in selected)
    workdir = workdir / "echo"
    workdir.mkdir()
    urls: dict[str, str] = {}
    servers: list[subprocess.Popen[str]] = []
    bound_where: dict[str, Any] = {}
    try:
        for key in (k for k in ECHOED if not results[k].failed):
            try:
                process, urls[key], _ = setups.start_server(_SETUPS[key], workdir)
            except Exception as exc:  # reported in its row; the bench goes on
                results[key].failed = why(exc)
                say(f"  echo {key}: skipped: {results[key].failed}")
                continue
            servers.append(process)
        if not results["bound"].failed:
            try:
                process, bound_where = processes.start_server(
                    processes.python("bench.bound", "server", str(workdir / "tls")),
                    workdir / "bound-echo.log",
                    STARTUP_TIMEOUT,
                )
            except Unavailable as exc:
                results["bound"].failed = f"skipped: {exc}"
                say(f"  echo bound: {results['bound'].failed}")
            else:
                servers.append(process)

        def measure(key: str) -> str:
            if key == "bound":
                latencies = _bound_round(bound_where, count)
            else:
                latencies = asyncio.run(_echo(urls[key], count))
            results[key].latencies += latencies
            results[key].round_p50.append(statistics.median(latencies))
            return f"p50 {1000 * results[key].round_p50[-1]:.2f} ms"

        interleave(rounds, results, measure, "echo", say)
    finally:
        for process in servers:
            processes.stop(process)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] != ["bound"] or len(sys.argv) != 5:
        sys.exit(__doc__)
    url, ca, count = sys.argv[2:5]
    print(json.dumps(bound_client(url, ca, int(count))))
