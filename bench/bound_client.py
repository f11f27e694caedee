"""The bounds' client side: the bench's boto3 calls made in one process, and timed.

    python -m bench.bound_client poster URL CA   # posts as the broadcast handler would
    python -m bench.bound_client call FUNCTION URL CA WARM COUNT ROOM   # the handler itself

``URL`` and ``CA`` are :mod:`bench.bound`'s 200-only HTTPS server. This module imports
only the standard library, boto3 and the bench's modules that do the same, so that it
runs on the interpreter our emulator runs the handler on, with boto3 as the runtime gives
it there (:mod:`bench.bound_python` starts it so).

``poster`` reads the load generator's commands and answers in its shape: a "message" is
one broadcast, ``room`` posts in a row on one thread; ``inflight`` threads broadcast at
once, as that many warm Lambda workers would.

``call`` loads bench/broadcast/handler.py and calls its ``FUNCTION`` (``echo`` or
``broadcast``) ``WARM`` times to warm up, then ``COUNT`` times, each with the event of
the message a socket would send (:func:`bench.workload.probe_message`); it prints the
latencies of those ``COUNT`` calls, in seconds, as JSON. ``broadcast`` queries the
table of ``AWS_ENDPOINT_URL_DYNAMODB`` (from the environment), which must hold one
connection in ``ROOM``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from types import ModuleType
from typing import Any

import boto3

from bench.serving import announce
from bench.workload import CONNECTIONS_TABLE, HANDLER, STAGE, probe_message

_CREDENTIALS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


class Poster:
    def __init__(self, url: str, ca: str, threads: int = 8) -> None:
        # One client per thread, as one per Lambda container.
        self.clients = [
            boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=url,
                verify=ca,
                region_name=_CREDENTIALS["AWS_DEFAULT_REGION"],
                aws_access_key_id=_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            for _ in range(threads)
        ]

    def run(
        self, room: int, inflight: int, duration: float, min_messages: int, timeout: float
    ) -> dict[str, Any]:
        latencies: list[float] = []
        lock = threading.Lock()
        started = time.perf_counter()
        stop_at = started + duration
        issued = 0

        def broadcast(client: Any) -> None:
            nonlocal issued
            while True:
                with lock:
                    if time.perf_counter() >= stop_at and issued >= min_messages:
                        return
                    issued += 1
                sent_at = time.perf_counter()
                for i in range(room):
                    client.post_to_connection(ConnectionId=f"c{i}", Data=b"x" * 128)
                with lock:
                    latencies.append(time.perf_counter() - sent_at)

        threads = [threading.Thread(target=broadcast, args=(c,)) for c in self.clients[:inflight]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {
            "room": room,
            "inflight": inflight,
            "messages": len(latencies),
            "lost": 0,
            "deliveries": len(latencies) * room,
            "elapsed": time.perf_counter() - started,
            "latencies": latencies,
        }


def poster(url: str, ca: str) -> None:
    """The broadcast tables' bound: posts on the load generator's commands (stdin)."""
    posting = Poster(url, ca)
    for warm in posting.clients:  # connections and TLS sessions, as warm workers have them
        warm.post_to_connection(ConnectionId="warm", Data=b"x")
    announce({"ready": True, "connect_s": 0.0, "connections": 0})
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            return
        announce(posting.run(**command))


def _handler(url: str, ca: str) -> ModuleType:
    """bench/broadcast/handler.py, loaded as Lambda would with the bound's endpoints."""
    os.environ.update(
        {
            "CONNECTIONS_ENDPOINT": url,
            "AWS_CA_BUNDLE": ca,
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            **_CREDENTIALS,
        }
    )
    spec = importlib.util.spec_from_file_location("bench_bound_handler", HANDLER)
    if spec is None or spec.loader is None:
        raise ValueError(f"can't load {HANDLER}")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    return handler


def call(function: str, url: str, ca: str, warm: int, count: int, room: str) -> list[float]:
    """The handler's ``function`` called ``warm + count`` times; the last ``count``'s times."""
    handler = _handler(url, ca)
    run = getattr(handler, function)
    if function == "broadcast" and len(found := handler._receivers(room)) != 1:
        # The 200-only server takes any post: a room not as planned would go unseen.
        raise ValueError(f"room {room!r} holds {found}, not one connection")
    latencies: list[float] = []
    for n in range(warm + count):
        event = {
            "requestContext": {"connectionId": f"c{n}", "domainName": "bound", "stage": STAGE},
            "body": json.dumps(probe_message(function, n, room)),
        }
        started = time.perf_counter()
        run(event, None)
        if n >= warm:
            latencies.append(time.perf_counter() - started)
    return latencies


def main(argv: list[str]) -> None:
    if argv[:1] == ["poster"] and len(argv) == 3:
        poster(argv[1], argv[2])
    elif argv[:1] == ["call"] and len(argv) == 7:
        function, url, ca, warm, count, room = argv[1:]
        print(json.dumps(call(function, url, ca, int(warm), int(count), room)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
