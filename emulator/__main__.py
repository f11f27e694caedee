"""``python -m emulator``: run the chat locally (what ``make local`` runs)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from emulator.harness import Harness, HarnessSettings
from scripts.stack import Stack


async def run(settings: HarnessSettings) -> None:
    started = time.monotonic()
    print("Starting the embedded AWS emulator and deploying the chat to it:", flush=True)
    harness = Harness(settings, out=sys.stdout)
    try:
        await harness.start()
        assert harness.website is not None
        assert harness.gateway is not None
        print(
            f"\nReady in {time.monotonic() - started:.1f} s.\n"
            f"  Open the chat:   {harness.website.url}\n"
            f"  WebSocket API:   {harness.gateway.url}\n"
            f"  AWS emulator:    {harness.moto_url}  (e.g. awslocal --endpoint-url ...)\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await harness.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the chat on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="website port (default 8080)")
    parser.add_argument("--ws-port", type=int, default=8765, help="WebSocket port (default 8765)")
    parser.add_argument("--quiet", action="store_true", help="don't print function logs")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    settings = HarnessSettings(
        host=args.host, gateway_port=args.ws_port, website_port=args.port, stack=Stack()
    )
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        print("\nStopped.")
    except OSError as exc:
        print(f"Could not start: {exc}. Is another copy running? Try --port/--ws-port.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
