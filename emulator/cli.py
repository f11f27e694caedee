"""``python -m emulator serve``, run: read the stack, deploy it, serve it until Ctrl-C.

    python -m emulator serve template.yaml [--parameter-overrides K=V …] [--stage S]
    python -m emulator serve cdk.out [--stack NAME]   # what `cdk synth` wrote
    python -m emulator serve scripts.stack:CHAT       # a Stack written in Python

It starts an embedded AWS control plane (moto's server) in an account of its own,
deploys the stack into it with the project's deployer, and serves the WebSocket API
with the gateway emulator until Ctrl-C. Its options are :mod:`emulator.serve_options`'s;
what it prints once ready is :mod:`emulator.banner`'s.
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

from emulator.banner import banner
from emulator.controlplane import new_account_id
from emulator.debugging import DebugError, check_names
from emulator.deploy import DeployError
from emulator.harness import Harness
from emulator.harness_settings import HarnessSettings
from emulator.interpreters import InterpreterError
from emulator.interpreters import parse_overrides as parse_pythons
from emulator.package import PackageError
from emulator.reload import StackSource, Watcher
from emulator.serve_options import (
    TEMPLATE_SUFFIXES,
    UsageError,
    build_parser,
    debug_settings,
    parse_overrides,
)
from emulator.stack import Stack, StackError
from emulator.state import StateError
from emulator.targets import Target, TargetError, fail
from emulator.template import TemplateError, load

# Each stops the server and saves the tables; SIGHUP is a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        print(banner(harness, started), file=out, flush=True)
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
            debug = debug_settings(args)
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
