"""``python -m emulator serve``: run a WebSocket API on localhost, from a template or Python.

The command line (:func:`build_parser`) and what its values mean: template parameters,
delays, which functions a debugger attaches to. :mod:`emulator.cli` runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emulator.controlplane import LOOPBACK
from emulator.debugging import DebugSettings
from emulator.runner import IDLE_WORKER_SECONDS
from emulator.stack import DEFAULT_REGION

DEFAULT_PORT = 8765
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


class UsageError(Exception):
    """The command line asks for something that can't be; the message says what."""


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--parameter-overrides {pair!r}: write Name=Value")
        values[name] = value
    return values


def _milliseconds(text: str) -> float:
    """``15ms``, ``15`` (milliseconds) or ``0.015s``, as seconds."""
    try:
        if text.endswith("ms"):
            return float(text[:-2]) / 1000
        if text.endswith("s"):
            return float(text[:-1])
        return float(text) / 1000
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a delay like 15ms") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Run WebSocket APIs on localhost."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve a SAM/CloudFormation template (or a Python Stack) until Ctrl-C",
        description=(__doc__ or "").split("\n\n")[0],
    )
    serve.add_argument(
        "stack",
        help="template.yaml / template.json, a CDK cloud assembly (cdk.out), or module:STACK",
    )
    serve.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters",
    )
    serve.add_argument("--stage", help="the stage to serve (default: the template's own)")
    serve.add_argument("--region", default=DEFAULT_REGION)
    serve.add_argument("--api", help="the WebSocket API's logical id, if the template has several")
    serve.add_argument(
        "--stack",
        dest="assembly_stack",
        metavar="NAME",
        help="the stack of a cloud assembly to serve (default: the one with a WebSocket API)",
    )
    serve.add_argument("--stack-name", help="default: the template's folder name")
    serve.add_argument(
        "--host", default=LOOPBACK, help="where the WebSocket API and website listen"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="WebSocket port (0: any)")
    serve.add_argument("--website-port", type=int, default=0, help="website port (0: any)")
    serve.add_argument("--control-plane-port", type=int, default=0, help="moto's port (0: any)")
    serve.add_argument(
        "--control-plane",
        metavar="URL",
        help="deploy to this AWS endpoint (e.g. LocalStack's http://localhost:4566) instead of "
        "the embedded emulator",
    )
    serve.add_argument("--connections-port", type=int, default=0, help="@connections port")
    serve.add_argument(
        "--moto-api",
        action="store_true",
        help="turn on the embedded emulator's /moto-api routes (reset, dashboard); off by default",
    )
    serve.add_argument(
        "--post-latency",
        type=_milliseconds,
        default=0.0,
        metavar="MS",
        help="add this delay to each @connections call, as from Lambda on AWS (e.g. 15ms)",
    )
    serve.add_argument(
        "--worker-idle",
        type=float,
        default=IDLE_WORKER_SECONDS,
        metavar="SECONDS",
        help=f"retire a function's idle worker after this (default {IDLE_WORKER_SECONDS:.0f})",
    )
    serve.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="VERSION=PATH",
        help="run python3.X functions on this interpreter (e.g. 3.12=/usr/bin/python3.12)",
    )
    serve.add_argument("--build-dir", type=Path, help="function packages (default: temporary)")
    serve.add_argument("--log-dir", type=Path, help="function logs (default: temporary)")
    serve.add_argument("--outputs", type=Path, help="write what deploy made to this JSON file")
    serve.add_argument(
        "--watch", action="store_true", help="apply edits to code and template while serving"
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        help="save the tables here while serving and restore them at the next start",
    )
    serve.add_argument(
        "--fresh", action="store_true", help="with --state-dir: start with empty tables"
    )
    serve.add_argument(
        "--debug-port",
        type=int,
        metavar="PORT",
        help="let a debugger attach to functions on 127.0.0.1:PORT (the next function "
        "PORT+1, …): Python under debugpy (needs ws-emulator[debug]), Node.js under "
        "node --inspect",
    )
    serve.add_argument(
        "--debug-function",
        action="append",
        default=[],
        metavar="NAME",
        help="with --debug-port: only this function (logical id, route key or deployed name; "
        "repeatable); default: every function",
    )
    serve.add_argument(
        "--inspector-port", type=int, default=0, help="the inspector page's port (0: any)"
    )
    serve.add_argument(
        "--no-inspector",
        action="store_true",
        help="keep no record of connections, frames and invocations, and serve no inspector",
    )
    serve.add_argument(
        "--verbose", action="store_true", help="show START/END/REPORT lines and deploy's steps"
    )
    serve.add_argument("--quiet", action="store_true", help="show only failures")
    serve.add_argument("--debug", action="store_true", help="tracebacks instead of one-line errors")
    return parser


def debug_settings(args: argparse.Namespace) -> DebugSettings | None:
    if args.debug_port is None:
        if args.debug_function:
            raise UsageError("--debug-function needs --debug-port")
        return None
    if not 0 < args.debug_port < 65536:
        raise UsageError(f"--debug-port {args.debug_port}: give a port from 1 to 65535")
    return DebugSettings(port=args.debug_port, functions=tuple(args.debug_function))
