"""``python -m emulator serve``: run a WebSocket API on localhost, from a template or Python.

    python -m emulator serve template.yaml [--parameter-overrides K=V …] [--stage S]
    python -m emulator serve cdk.out [--stack NAME]   # what `cdk synth` wrote
    python -m emulator serve scripts.stack:CHAT       # a Stack written in Python

It starts an embedded AWS control plane (moto's server) in an account of its own,
deploys the stack into it with the project's deployer, and serves the WebSocket API
with the gateway emulator until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from emulator.controlplane import LOOPBACK, new_account_id
from emulator.debugging import DebugError, DebugSettings, banner_lines, check_names
from emulator.deploy import DeployError
from emulator.harness import Harness
from emulator.harness_settings import HarnessSettings
from emulator.interpreters import InterpreterError
from emulator.interpreters import parse_overrides as parse_pythons
from emulator.package import PackageError
from emulator.reload import StackSource, Watcher
from emulator.runner import IDLE_WORKER_SECONDS
from emulator.stack import DEFAULT_REGION, Stack, StackError
from emulator.state import StateError
from emulator.targets import Target, TargetError, fail
from emulator.template import TemplateError, load

DEFAULT_PORT = 8765
# Each stops the server and saves the tables; SIGHUP is a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
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


def _python_source(reference: str, stage: str | None) -> StackSource:
    module_name, _, attribute = reference.partition(":")
    try:
        source = StackSource.python(module_name, attribute)
        stack = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{reference}: can't import it ({exc})") from exc
    if not isinstance(stack, Stack):
        raise UsageError(f"{reference} is a {type(stack).__name__}, not an emulator Stack")
    if stage:
        read = source.read
        source.read = lambda: replace(read(), stage=stage)
    return source


def stack_source(
    args: argparse.Namespace, account_id: str, work_dir: Path, out: TextIO
) -> StackSource:
    """Where the command's stack comes from: a template file, or ``module:ATTRIBUTE``."""
    reference: str = args.stack
    if ":" in reference and not reference.endswith(TEMPLATE_SUFFIXES):
        return _python_source(reference, args.stage)
    path = Path(reference)
    parameters = parse_overrides(args.parameter_overrides)
    definition = [path.resolve()]  # and, once read, the files the stack was read from

    def read() -> Stack:
        loaded = load(
            path,
            parameters=parameters,
            stage=args.stage,
            region=args.region,
            account_id=account_id,
            stack_name=args.stack_name,
            api=args.api,
            stack=args.assembly_stack,
            work_dir=work_dir,
        )
        for line in loaded.skipped:
            print(f"  note: {line}", file=out)
        definition[1:] = loaded.sources
        return loaded.stack

    return StackSource(read, definition)


def _banner(harness: Harness, started: float) -> str:
    assert harness.target is not None
    assert harness.outputs is not None
    gateway = harness.gateway
    key, secret = harness.target.access_key
    lines = [f"\nReady in {time.monotonic() - started:.1f} s."]
    if gateway is None:  # a LocalStack plan with WebSocket APIs serves it
        lines += [
            f"  WebSocket API   {harness.outputs.websocket_url}",
            "                  LocalStack's own; it runs the functions in its Lambda",
        ]
    else:
        lines += [
            f"  WebSocket API   {gateway.url}",
            "                  connect clients here; on AWS this is "
            f"wss://{gateway.domain_name}/{gateway.stage}",
        ]
    if harness.website is not None:
        lines += [
            f"  Website         {harness.website.url}",
            "                  the website bucket, served as S3 website hosting would",
        ]
    if gateway is not None:
        lines += [
            f"  @connections    {gateway.management_endpoint}",
            "                  what functions post to; their workers resolve it to "
            f"127.0.0.1:{gateway.connections_port}",
        ]
    lines += [
        f"  AWS endpoint    {harness.control_plane_url}",
        f"                  DynamoDB, S3, Lambda…: AWS_ENDPOINT_URL={harness.control_plane_url}"
        f" AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}",
        f"  Function logs   {harness.log_dir}/<function>.log",
    ]
    if harness.inspector is not None:
        lines += [
            f"  Inspector       {harness.inspector.url}",
            "                  connections, frames, invocations and @connections calls, live",
        ]
    if harness.debugged:
        lines += banner_lines(harness.debugged)
    if harness.settings.state_dir is not None:
        lines.append(
            f"Tables are saved in {harness.settings.state_dir} within seconds of a change, "
            "and when you stop."
        )
    lines += [
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def _serve(
    settings: HarnessSettings, source: StackSource | None, out: TextIO, verbose: bool
) -> None:
    started = time.monotonic()
    harness = Harness(settings, out=out if verbose else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    watching: asyncio.Task[None] | None = None
    try:
        await harness.start()
        if not verbose:
            for note in harness.report.notes:
                print(f"  note: {note}", file=out)
            print(f"  {harness.report.summary()}", file=out)
        if harness.restored is not None:
            print(f"  {harness.restored.summary()}", file=out)
        print(_banner(harness, started), file=out, flush=True)
        if source is not None:
            watching = asyncio.create_task(Watcher(harness, source, out).run(stop))
        await stop.wait()
        # One line from here on: what the functions print while stopping ($disconnect)
        # goes to their log files only.
        logging.getLogger("emulator.lambda").setLevel(logging.WARNING)
        _tell(out, "\nStopping…", end="")
    finally:
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        await harness.stop()


def _tell(out: TextIO, text: str, end: str = "\n") -> None:
    """Print while stopping: after SIGHUP the terminal is gone, and stopping goes on."""
    try:
        print(text, end=end, file=out, flush=True)
    except OSError:  # EIO or EPIPE: nobody is left to read it
        return


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


def _debug_settings(args: argparse.Namespace) -> DebugSettings | None:
    if args.debug_port is None:
        if args.debug_function:
            raise UsageError("--debug-function needs --debug-port")
        return None
    if not 0 < args.debug_port < 65536:
        raise UsageError(f"--debug-port {args.debug_port}: give a port from 1 to 65535")
    return DebugSettings(port=args.debug_port, functions=tuple(args.debug_function))


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=out)
    logging.getLogger("emulator").setLevel(level)
    account_id = new_account_id()
    with tempfile.TemporaryDirectory(prefix="ws-emulator-serve-") as work:
        try:
            source = stack_source(args, account_id, Path(work), out)
            stack = source.read()
            debug = _debug_settings(args)
            if debug is not None:
                check_names(debug, stack)
            where = args.control_plane or "the embedded AWS emulator"
            print(f"Deploying {stack.name} to {where}…", file=out, flush=True)
            settings = HarnessSettings(
                stack=stack,
                host=args.host,
                gateway_port=args.port,
                website_port=args.website_port,
                control_plane_port=args.control_plane_port,
                control_plane_url=args.control_plane,
                connections_port=args.connections_port,
                build_dir=args.build_dir,
                log_dir=args.log_dir,
                outputs_path=args.outputs,
                account_id=account_id,
                state_dir=args.state_dir,
                post_latency=args.post_latency,
                worker_idle=args.worker_idle,
                fresh=args.fresh,
                pythons=parse_pythons(args.python),
                moto_api=args.moto_api,
                record=not args.no_inspector,
                inspector_port=None if args.no_inspector else args.inspector_port,
                debug=debug,
            )
            asyncio.run(_serve(settings, source if args.watch else None, out, args.verbose))
        except (
            UsageError,
            TemplateError,
            StackError,
            DeployError,
            PackageError,
            TargetError,
            InterpreterError,
            StateError,
            DebugError,
        ) as exc:
            if args.debug:
                raise
            print(f"error: {exc}", file=out)
            return 2 if isinstance(exc, UsageError | InterpreterError) else 1
        except (BotoCoreError, ClientError) as exc:
            target = (
                Target.localstack(args.region, args.control_plane)
                if args.control_plane
                else Target.local("the embedded AWS emulator", args.region)
            )
            return fail(exc, target, args.debug, out)
        except OSError as exc:
            if args.debug:
                raise
            print(
                f"error: could not start: {exc}. Is another copy running? "
                "Choose other ports (--port, --website-port; 0 picks a free one).",
                file=out,
            )
            return 1
        except KeyboardInterrupt:
            pass
    _tell(out, " stopped.")
    return 0
