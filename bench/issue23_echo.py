"""Issue 23's round trips: one socket sends a message and waits for its frame back,
through each of three of bench/broadcast/handler.py's routes, on ours and the peers.

- **echo**: the handler posts the data back to its sender (one ``post_to_connection``).
- **reply**: the handler returns the data as its body, and the route's ``$default``
  route response sends it back: no boto3 call at all.
- **broadcast-1**: the sender is alone in a room of its own (``?room=`` on connect) and
  broadcasts to it: the handler's DynamoDB Query on the room index, then one post.

A bound is the same handler called in-process (:mod:`bench.bound_client`, on the
interpreter ours runs the handler on: :mod:`bench.bound_python`), its posts answered by
the 200-only HTTPS server of :mod:`bench.bound`; for broadcast-1 its Query goes to our
emulator's DynamoDB in a process of its own (:mod:`bench.bound_dynamodb`), the table
holding that one connection. The reply has no bound: it makes no call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from bench import bound, bound_python, processes, setups
from bench.bound_python import BoundPython
from bench.peers import Unavailable
from bench.rounds import deselect, interleave, why
from bench.workload import probe_message

ECHOED = ("ours", "serverless-offline", "ministack")
SETUPS = (*ECHOED, "bound")
# Each round trip's route, and the setups that measure it.
PROBES: dict[str, tuple[str, tuple[str, ...]]] = {
    "echo": ("echo", SETUPS),
    "reply": ("reply", ECHOED),
    "broadcast-1": ("broadcast", SETUPS),
}
ECHO_WARM = 20
ECHO_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3
STARTUP_TIMEOUT = 120
BOUND_ROOM = "bound-alone"
_SETUPS = {s.key: s for s in setups.SETUPS}


@dataclass
class Echo:
    latencies: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    failed: str = ""


@dataclass
class RoundTrips:
    """Each probe's figures by setup, and what the bounds ran on."""

    by_probe: dict[str, dict[str, Echo]]
    bound_python: str = ""  # BoundPython.label; empty if no bound ran


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


async def echoes(
    socket: ClientConnection, count: int, warm: int = 0, action: str = "echo", room: str = ""
) -> list[float]:
    """``warm + count`` round trips through ``action`` one after another on ``socket``
    (in ``room`` for a broadcast); the last ``count``'s, in seconds."""
    latencies: list[float] = []
    for n in range(warm + count):
        message = probe_message(action, n, room)
        sent_at = time.perf_counter()
        await socket.send(json.dumps(message))
        try:
            reply = await asyncio.wait_for(socket.recv(), ECHO_TIMEOUT)
        except TimeoutError:
            raise ValueError(f"{action} {n}: nothing came back in {ECHO_TIMEOUT:g} s") from None
        if reply != message["data"]:
            raise ValueError(f"{action} {n}: got {reply!r}")
        if n >= warm:
            latencies.append(time.perf_counter() - sent_at)
    return latencies


async def _round(url: str, action: str, count: int) -> list[float]:
    room = f"alone-{secrets.token_hex(4)}"  # no socket of an earlier round is in it
    async with await _open(f"{url}?room={room}") as socket:
        return await echoes(socket, count, ECHO_WARM, action, room)


def _bound_round(
    python: BoundPython, action: str, where: Mapping[str, str], count: int
) -> list[float]:
    arguments = [action, where["url"], where["ca"], str(ECHO_WARM), str(count), BOUND_ROOM]
    dynamodb = {"AWS_ENDPOINT_URL_DYNAMODB": where["dynamodb"]} if "dynamodb" in where else {}
    env = python.env(dynamodb)
    done = subprocess.run(
        python.command("bench.bound_client", "call", *arguments),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise ValueError(f"bound client: {done.stderr.strip().splitlines()[-1:]}")
    return [float(x) for x in json.loads(done.stdout)]


def _start_bound(
    workdir: Path, with_dynamodb: bool
) -> tuple[BoundPython, dict[str, str], list[subprocess.Popen[str]]]:
    """The bound's interpreter, its servers' whereabouts, and the servers."""
    python = bound_python.find(workdir)
    server, where = bound.start(workdir, workdir / "bound-echo.log", STARTUP_TIMEOUT)
    if not with_dynamodb:
        return python, where, [server]
    try:
        command = processes.python("bench.bound_dynamodb", BOUND_ROOM)
        log = workdir / "bound-dynamodb.log"
        dynamodb, found = processes.start_server(command, log, STARTUP_TIMEOUT)
    except BaseException:
        processes.stop(server)
        raise
    return python, {**where, "dynamodb": found["url"]}, [server, dynamodb]


def measure_round_trips(
    rounds: int,
    count: int,
    workdir: Path,
    say: Callable[[str], None],
    selected: Mapping[str, Collection[str]] | None = None,
) -> RoundTrips:
    """The ``selected`` probes' round trips on the setups named (by default every probe on
    its every setup), ``count`` a round, in interleaved rounds."""
    chosen = selected if selected is not None else {p: s for p, (_, s) in PROBES.items()}
    results = {f"{p}:{s}": Echo() for p, (_, setups_of) in PROBES.items() for s in setups_of}

    def is_chosen(key: str) -> bool:
        probe, _, setup = key.partition(":")
        return setup in chosen.get(probe, ())

    deselect(results, is_chosen)
    live = {key.partition(":")[2] for key, result in results.items() if not result.failed}
    workdir = workdir / "echo"
    workdir.mkdir()
    urls: dict[str, str] = {}
    servers: list[subprocess.Popen[str]] = []
    python: BoundPython | None = None
    where: dict[str, str] = {}

    def fail(setup: str, reason: str) -> None:
        for key, result in results.items():
            if key.endswith(f":{setup}") and not result.failed:
                result.failed = reason
        say(f"  round trips {setup}: {reason}")

    try:
        for key in (k for k in ECHOED if k in live):
            try:
                process, urls[key], _ = setups.start_server(_SETUPS[key], workdir)
            except Exception as exc:  # reported in its rows; the bench goes on
                fail(key, why(exc))
                continue
            servers.append(process)
        if "bound" in live:
            try:
                with_dynamodb = not results["broadcast-1:bound"].failed
                python, where, started = _start_bound(workdir, with_dynamodb)
            except Unavailable as exc:
                fail("bound", f"skipped: {exc}")
            else:
                servers += started

        def measure(key: str) -> str:
            probe, _, setup = key.partition(":")
            action = PROBES[probe][0]
            if setup == "bound":
                assert python is not None
                latencies = _bound_round(python, action, where, count)
            else:
                latencies = asyncio.run(_round(urls[setup], action, count))
            results[key].latencies += latencies
            results[key].round_p50.append(statistics.median(latencies))
            return f"p50 {1000 * results[key].round_p50[-1]:.2f} ms"

        interleave(rounds, results, measure, "round trip", say)
    finally:
        for process in servers:
            processes.stop(process)
    by_probe: dict[str, dict[str, Echo]] = {probe: {} for probe in PROBES}
    for key, result in results.items():
        probe, _, setup = key.partition(":")
        by_probe[probe][setup] = result
    return RoundTrips(by_probe, python.label if python is not None else "")
