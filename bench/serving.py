"""What every server the bench starts shares: how it says where it is, and when to stop.

A server prints one JSON line (``{"url": ...}``) on stdout once it serves, and runs
until SIGTERM or SIGINT arrives or its stdin closes (the bench died).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from typing import Any


def announce(where: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(where) + "\n")
    sys.stdout.flush()


async def until_stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def watch_stdin() -> None:  # a daemon thread: it must not hold up the exit
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    await stop.wait()
