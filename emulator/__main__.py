"""``python -m emulator``: run the chat locally (what ``make local`` runs)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from emulator.api import ApiError
from emulator.harness import Harness, HarnessSettings
from scripts.deploy import DeployError
from scripts.stack import Stack, StackError
from scripts.targets import Target, TargetError, fail


async def run(settings: HarnessSettings) -> None:
    started = time.monotonic()
    where = settings.control_plane_url or "the embedded AWS emulator"
    print(f"Deploying the chat to {where}:", flush=True)
    harness = Harness(settings, out=sys.stdout)
    try:
        await harness.start()
        assert harness.website is not None
        assert harness.outputs is not None
        server = "our gateway emulator" if harness.gateway is not None else "LocalStack"
        print(
            f"\nReady in {time.monotonic() - started:.1f} s.\n"
            f"  Open the chat:   {harness.website.url}\n"
            f"  WebSocket API:   {harness.outputs.websocket_url}  (served by {server})\n"
            f"  AWS endpoint:    {harness.control_plane_url}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        print("\nStopping…", flush=True)
    finally:
        await harness.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the chat on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="website port (default 8080)")
    parser.add_argument("--ws-port", type=int, default=8765, help="WebSocket port (default 8765)")
    parser.add_argument("--quiet", action="store_true", help="don't print function logs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--control-plane",
        metavar="URL",
        help="use this AWS endpoint (e.g. LocalStack's http://localhost:4566) instead of "
        "the embedded emulator",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    settings = HarnessSettings(
        host=args.host,
        gateway_port=args.ws_port,
        website_port=args.port,
        stack=Stack(),
        control_plane_url=args.control_plane,
    )
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        print("\nStopped.")
    except (DeployError, StackError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError, TargetError) as exc:
        region = settings.stack.region
        target = (
            Target.localstack(region, args.control_plane)
            if args.control_plane
            else Target.local("the embedded emulator", region)
        )
        return fail(exc, target, args.debug)
    except OSError as exc:
        print(
            f"Could not start: {exc} (website port {args.port}, WebSocket port "
            f"{args.ws_port}). Is another copy running? Try --port/--ws-port."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
