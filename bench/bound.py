"""The bound: what boto3's ``post_to_connection`` alone costs the caller.

    python -m bench.bound server DIR   # HTTPS that answers every request 200, at once
    python -m bench.bound client URL CA   # posts as the broadcast handler would

The server does nothing but answer, so the client's cost is what is left: a handler
that posts one receiver after another can't beat this, whatever emulator serves it.
The client reads the load generator's commands and answers in its shape: a
"message" is one broadcast, ``room`` posts in a row on one thread; ``inflight``
threads broadcast at once, as that many warm Lambda workers would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from bench.serving import announce, until_stopped
from emulator.tls_authority import make_certificates

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            writer.write(_OK)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(directory: Path) -> None:
    certificates = make_certificates(directory, "us-east-1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert_path, certificates.key_path)
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    announce({"url": f"https://localhost:{port}/bench", "ca": str(certificates.ca_path)})
    async with server:
        await until_stopped()


class Poster:
    def __init__(self, url: str, ca: str, threads: int = 8) -> None:
        # One client per thread, as one per Lambda container.
        self.clients = [
            boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=url,
                verify=ca,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
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


def client(url: str, ca: str) -> None:
    poster = Poster(url, ca)
    for warm in poster.clients:  # connections and TLS sessions, as warm workers have them
        warm.post_to_connection(ConnectionId="warm", Data=b"x")
    announce({"ready": True, "connect_s": 0.0, "connections": 0})
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            return
        announce(poster.run(**command))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")
    server.add_argument("directory", type=Path)
    poster = sub.add_parser("client")
    poster.add_argument("url")
    poster.add_argument("ca")
    args = parser.parse_args()
    if args.role == "server":
        asyncio.run(serve(args.directory))
    else:
        client(args.url, args.ca)


if __name__ == "__main__":
    main()
