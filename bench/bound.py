"""The bound: what boto3's ``post_to_connection`` alone costs the caller.

    python -m bench.bound server DIR   # HTTPS that answers every request 200, at once

The server does nothing but answer, so the client's cost is what is left: a handler
that posts one receiver after another can't beat this, whatever emulator serves it.
The clients are :mod:`bench.bound_client`'s, on the handler's own interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any

from bench import processes
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


def start(workdir: Path, log: Path, timeout: float) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the server (its certificates in ``workdir``); returns it and its url and CA."""
    command = processes.python("bench.bound", "server", str(workdir / "tls"))
    return processes.start_server(command, log, timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")  # the clients are bench.bound_client's
    server.add_argument("directory", type=Path, help="where its certificates are made")
    asyncio.run(serve(parser.parse_args().directory))


if __name__ == "__main__":
    main()
